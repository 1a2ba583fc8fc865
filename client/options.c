/* options.c: the vesper command line's options and usage text (see cli.h).
 *
 * Options may come anywhere on the line; each one is checked here (numbers in
 * range, files readable), so main.c only ever sees a well-formed struct cli.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_usage_text[] =
    "usage: vesper ADDRESS KEY [VALUE]          v1 form: PUT KEY=VALUE, or GET KEY\n"
    "       vesper get KEY             [options]\n"
    "       vesper put KEY VALUE [--ttl SECONDS] [options]  with --ttl: a new lease, then\n"
    "                                            the put with it; prints \"lease ID\" last\n"
    "       vesper delete KEY          [options]\n"
    "       vesper cas KEY EXPECTED NEW [options]  set NEW if the value is EXPECTED\n"
    "       vesper cas --absent KEY NEW [options]  set NEW if KEY does not exist\n"
    "       vesper list PREFIX [--limit N] [--keys-only] [--all]  keys in order\n"
    "       vesper txn [JSON]          [options]  "
    "{\"compare\":[..],\"success\":[..],\"failure\":[..]}\n"
    "                                            as JSON, else from stdin (README: protocol)\n"
    "       vesper watch PREFIX [--from REV] [--exact]  one line per change; with --exact\n"
    "                                            PREFIX is one key; reconnects on failure\n"
    "       vesper lease grant TTL | revoke ID | list | info ID [--keys]  TTL in seconds\n"
    "       vesper lease keepalive ID [--forever]  renew (--forever: every TTL/3 until\n"
    "                                            interrupted or the lease is gone)\n"
    "       vesper status              [options]  one row per node\n"
    "       vesper help                          this text\n"
    "       vesper transfer ID         [options]  make node ID the leader\n"
    "       vesper members add ID URL | promote ID | remove ID  [options]\n"
    "       vesper snapshot save FILE  [options]  stream a consistent backup from the leader\n"
    "       vesper snapshot status FILE          check a backup, print index, term, keys, members\n"
    "ADDRESS and endpoints look like http://127.0.0.1:5000\n"
    "options:\n"
    "  --endpoints URL,URL,...  nodes to try, in order (default: $VESPER_ENDPOINTS, else\n"
    "                           ./ip_list.txt, else http://127.0.0.1:5000..5004)\n"
    "  --ip-list FILE           nodes from a file, one URL per line (the server's ip_list)\n"
    "  --timeout SECONDS        deadline including retries through elections (default 5)\n"
    "  --value-file FILE        read VALUE (put, v1 PUT) or NEW (cas) from FILE ('-': stdin)\n"
    "  --stale                  get, list: let any node answer from its local state\n"
    "  -w, --revisions          get, put, delete, cas: show revisions in the reply\n"
    "  --limit N --all          list: keys per page; follow pages to the end\n"
    "  --forward                ask a follower to relay to the leader (no redirect)\n"
    "  --token TOKEN            client API bearer token (default: $VESPER_TOKEN)\n"
    "  --cacert FILE            https: verify nodes against this CA (default: $VESPER_CACERT,\n"
    "                           else the system's CAs)\n"
    "  --cert FILE --key FILE   https: client certificate and key (default: $VESPER_CERT,\n"
    "                           $VESPER_KEY)\n"
    "  --no-session             writes without client_id/seq (retries may apply twice)\n"
    "  --client-id N --seq N    exactly-once identity (default: random id, seq 1)\n"
    "  -v, --verbose            log every attempt to stderr\n"
    "  --                       end of options (for keys or values starting with '-')\n"
    "exit status: 0 success, 1 the cluster answered fail, 2 usage error or no answer\n";

int cli_usage(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "vesper: %s\n", why);
    fputs(cli_usage_text, stderr);
    return 2;
}

/* Slurps a whole file (or stdin for "-") into cli->file_value. */
static int read_value_file(struct cli *cli, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "vesper: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    int rc = (buf == NULL || ferror(f)) ? -1 : 0;
    if (f != stdin && fclose(f) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "vesper: %s: read failed\n", path);
        free(buf);
        return -1;
    }
    free(cli->file_value);
    cli->file_value = buf;
    cli->file_value_len = len;
    cli->has_file_value = true;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

enum {
    OPT_ENDPOINTS = 256,
    OPT_IP_LIST,
    OPT_TIMEOUT,
    OPT_STALE,
    OPT_NO_SESSION,
    OPT_CLIENT_ID,
    OPT_SEQ,
    OPT_ABSENT,
    OPT_VALUE_FILE,
    OPT_FORWARD,
    OPT_TOKEN,
    OPT_CACERT,
    OPT_CERT,
    OPT_KEY,
    OPT_LIMIT,
    OPT_ALL,
    OPT_KEYS_ONLY,
    OPT_FROM,
    OPT_EXACT,
    OPT_TTL,
    OPT_FOREVER,
    OPT_KEYS
};

int cli_parse_options(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoints", required_argument, NULL, OPT_ENDPOINTS},
        {"ip-list", required_argument, NULL, OPT_IP_LIST},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"stale", no_argument, NULL, OPT_STALE},
        {"forward", no_argument, NULL, OPT_FORWARD},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        {"no-session", no_argument, NULL, OPT_NO_SESSION},
        {"client-id", required_argument, NULL, OPT_CLIENT_ID},
        {"seq", required_argument, NULL, OPT_SEQ},
        {"absent", no_argument, NULL, OPT_ABSENT},
        {"value-file", required_argument, NULL, OPT_VALUE_FILE},
        {"revisions", no_argument, NULL, 'w'},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"all", no_argument, NULL, OPT_ALL},
        {"keys-only", no_argument, NULL, OPT_KEYS_ONLY},
        {"from", required_argument, NULL, OPT_FROM},
        {"exact", no_argument, NULL, OPT_EXACT},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"forever", no_argument, NULL, OPT_FOREVER},
        {"keys", no_argument, NULL, OPT_KEYS},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "vhw", longopts, NULL)) != -1) {
        char *end;
        double secs;
        switch (ch) {
        case OPT_ENDPOINTS:
            if (endpoints_add_list(&cli->eps, optarg) != 0)
                return cli_usage("too many endpoints"), -1;
            break;
        case OPT_IP_LIST:
            if (endpoints_add_file(&cli->eps, optarg) != 0)
                return cli_usage("cannot read the ip list"), -1;
            break;
        case OPT_TIMEOUT:
            secs = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(secs > 0 && secs < 86400))
                return cli_usage("--timeout wants seconds, e.g. 5 or 0.5"), -1;
            cli->opts.timeout_ms = (long)(secs * 1000 + 0.5);
            if (cli->opts.timeout_ms == 0)
                cli->opts.timeout_ms = 1;
            break;
        case OPT_STALE:
            cli->req.stale = cli->kv.stale = true;
            break;
        case 'w':
            cli->req.revisions = true;
            break;
        case OPT_LIMIT:
            if (parse_u64(optarg, &cli->kv.limit) != 0 || cli->kv.limit == 0)
                return cli_usage("--limit wants an integer >= 1"), -1;
            break;
        case OPT_ALL:
            cli->kv.all = true;
            break;
        case OPT_KEYS_ONLY:
            cli->kv.keys_only = true;
            break;
        case OPT_FROM:
            if (parse_u64(optarg, &cli->watch_from) != 0 || cli->watch_from == 0)
                return cli_usage("--from wants a revision >= 1"), -1;
            break;
        case OPT_EXACT:
            cli->watch_exact = true;
            break;
        case OPT_TTL:
            if (parse_u64(optarg, &cli->ttl) != 0 || cli->ttl == 0)
                return cli_usage("--ttl wants whole seconds >= 1"), -1;
            break;
        case OPT_FOREVER:
            cli->lease.forever = true;
            break;
        case OPT_KEYS:
            cli->lease.keys = true;
            break;
        case OPT_FORWARD:
            cli->opts.forward = true;
            break;
        case OPT_TOKEN:
            cli->opts.token = optarg;
            break;
        case OPT_CACERT:
            cli->opts.cacert = optarg;
            break;
        case OPT_CERT:
            cli->opts.cert = optarg;
            break;
        case OPT_KEY:
            cli->opts.key = optarg;
            break;
        case OPT_NO_SESSION:
            cli->opts.no_session = true;
            break;
        case OPT_CLIENT_ID:
            if (parse_u64(optarg, &cli->opts.client_id) != 0 || cli->opts.client_id == 0)
                return cli_usage("--client-id wants an integer >= 1"), -1;
            break;
        case OPT_SEQ:
            if (parse_u64(optarg, &cli->opts.first_seq) != 0 || cli->opts.first_seq == 0)
                return cli_usage("--seq wants an integer >= 1"), -1;
            break;
        case OPT_ABSENT:
            cli->absent = true;
            break;
        case OPT_VALUE_FILE:
            if (read_value_file(cli, optarg) != 0)
                return cli_usage("cannot read --value-file"), -1;
            break;
        case 'v':
            cli->opts.verbose = true;
            break;
        case 'h':
            fputs(cli_usage_text, stdout);
            exit(0);
        default:
            return cli_usage("unknown option (use -- before a key or value starting with '-')"), -1;
        }
    }
    return 0;
}
