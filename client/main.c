/* main.c: the `vesper` command-line client (argument parsing and output only;
 * the protocol, redirects and retries live in vclient.c).
 *
 * Two forms. The v1 form, the original client's: `vesper ADDRESS KEY [VALUE]`
 * (PUT with a value, GET without), speaking the v1 protocol byte for byte so
 * scripts written for the original client keep working. And subcommands that
 * take a list of endpoints and fail over.
 * Output is the server's JSON reply on stdout; diagnostics go to stderr.
 * Exit status: 0 success, 1 the cluster answered fail, 2 usage or no answer.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints.h"
#include "kvcmd.h"
#include "leasecmd.h"
#include "ops.h"
#include "vclient.h"
#include "watchcmd.h"

static const char usage_text[] =
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

struct cli {
    struct endpoints eps;
    struct kvcmd_args kv;
    struct vclient_opts opts;
    struct vclient_req req;
    bool absent;
    char *file_value; /* --value-file contents */
    size_t file_value_len;
    bool has_file_value;
    uint64_t watch_from; /* watch --from */
    bool watch_exact;    /* watch --exact */
    uint64_t ttl;        /* put --ttl */
    struct leasecmd_args lease;
};

static int usage(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "vesper: %s\n", why);
    fputs(usage_text, stderr);
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

/* Options anywhere on the line (GNU getopt permutes). -1 on a usage error. */
static int parse_options(struct cli *cli, int argc, char **argv)
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
                return usage("too many endpoints"), -1;
            break;
        case OPT_IP_LIST:
            if (endpoints_add_file(&cli->eps, optarg) != 0)
                return usage("cannot read the ip list"), -1;
            break;
        case OPT_TIMEOUT:
            secs = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(secs > 0 && secs < 86400))
                return usage("--timeout wants seconds, e.g. 5 or 0.5"), -1;
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
                return usage("--limit wants an integer >= 1"), -1;
            break;
        case OPT_ALL:
            cli->kv.all = true;
            break;
        case OPT_KEYS_ONLY:
            cli->kv.keys_only = true;
            break;
        case OPT_FROM:
            if (parse_u64(optarg, &cli->watch_from) != 0 || cli->watch_from == 0)
                return usage("--from wants a revision >= 1"), -1;
            break;
        case OPT_EXACT:
            cli->watch_exact = true;
            break;
        case OPT_TTL:
            if (parse_u64(optarg, &cli->ttl) != 0 || cli->ttl == 0)
                return usage("--ttl wants whole seconds >= 1"), -1;
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
                return usage("--client-id wants an integer >= 1"), -1;
            break;
        case OPT_SEQ:
            if (parse_u64(optarg, &cli->opts.first_seq) != 0 || cli->opts.first_seq == 0)
                return usage("--seq wants an integer >= 1"), -1;
            break;
        case OPT_ABSENT:
            cli->absent = true;
            break;
        case OPT_VALUE_FILE:
            if (read_value_file(cli, optarg) != 0)
                return usage("cannot read --value-file"), -1;
            break;
        case 'v':
            cli->opts.verbose = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        default:
            return usage("unknown option (use -- before a key or value starting with '-')"), -1;
        }
    }
    return 0;
}

static void set_str(const char **p, size_t *n, const char *s)
{
    *p = s;
    *n = strlen(s);
}

/* The v1 form: ADDRESS KEY [VALUE]; the given address goes first, --endpoints
 * add failover targets. */
static int parse_v1_form(struct cli *cli, int n, char **args)
{
    struct vclient_req *r = &cli->req;
    int with_value = n == 3 || cli->has_file_value;
    if (!endpoints_is_url(args[0])) {
        fprintf(stderr,
                "vesper: unknown command '%s': commands are get, put, delete, cas, status, "
                "transfer, members, list, txn, lease, snapshot and watch; the v1 form is ADDRESS "
                "KEY [VALUE] "
                "with ADDRESS http://host:port\n",
                args[0]);
        fputs(usage_text, stderr);
        return -1;
    }
    if (n != 2 + (with_value && !cli->has_file_value))
        return usage("expected ADDRESS KEY [VALUE] or a subcommand"), -1;
    if (endpoints_prepend(&cli->eps, args[0]) != 0)
        return usage("too many endpoints"), -1;
    r->op = with_value ? VCLIENT_PUT : VCLIENT_GET;
    set_str(&r->key, &r->key_len, args[1]);
    if (n == 3)
        set_str(&r->value, &r->value_len, args[2]);
    return 0;
}

/* Positional arguments -> request (and the v1 form's ADDRESS). */
static int parse_command(struct cli *cli, int n, char **args)
{
    struct vclient_req *r = &cli->req;
    if (n < 1)
        return usage(NULL), -1;
    const char *cmd = args[0];
    int want; /* positional words including the subcommand */
    if (strcmp(cmd, "get") == 0) {
        r->op = VCLIENT_GET;
        want = 2;
    } else if (strcmp(cmd, "put") == 0) {
        r->op = VCLIENT_PUT;
        want = 3;
    } else if (strcmp(cmd, "delete") == 0) {
        r->op = VCLIENT_DELETE;
        want = 2;
    } else if (strcmp(cmd, "cas") == 0) {
        r->op = VCLIENT_CAS;
        want = cli->absent ? 3 : 4;
    } else if (parse_v1_form(cli, n, args) != 0) {
        return -1;
    } else {
        goto file_value;
    }
    bool takes_value = r->op == VCLIENT_PUT || r->op == VCLIENT_CAS;
    if (takes_value && cli->has_file_value)
        want--;
    if (n != want)
        return usage("wrong number of arguments"), -1;
    set_str(&r->key, &r->key_len, args[1]);
    if (r->op == VCLIENT_CAS) {
        r->expect_absent = cli->absent;
        if (!cli->absent)
            set_str(&r->expected, &r->expected_len, args[2]);
    }
    if (takes_value && !cli->has_file_value)
        set_str(&r->value, &r->value_len, args[want - 1]);
file_value:
    if (cli->has_file_value && (r->op == VCLIENT_PUT || r->op == VCLIENT_CAS)) {
        r->value = cli->file_value;
        r->value_len = cli->file_value_len;
    }
    if (r->key_len == 0)
        return usage("KEY must not be empty"), -1;
    return 0;
}

/* No --endpoints, --ip-list or ADDRESS: $VESPER_ENDPOINTS, else the local cluster. */
static int default_endpoints(struct cli *cli)
{
    if (cli->eps.n > 0)
        return 0;
    const char *env = getenv("VESPER_ENDPOINTS");
    const char *source = "$VESPER_ENDPOINTS";
    if (env != NULL && *env != '\0') {
        if (endpoints_add_list(&cli->eps, env) != 0)
            return usage("too many endpoints in $VESPER_ENDPOINTS");
    } else if (endpoints_default(&cli->eps, &source) != 0) {
        return usage("no endpoints: give --endpoints, --ip-list or $VESPER_ENDPOINTS");
    }
    if (cli->eps.n == 0)
        return usage("no endpoints: give --endpoints, --ip-list or $VESPER_ENDPOINTS");
    if (cli->opts.verbose) {
        fprintf(stderr, "vesper: endpoints from %s:", source);
        for (size_t i = 0; i < cli->eps.n; i++)
            fprintf(stderr, " %s", cli->eps.url[i]);
        fputc('\n', stderr);
    }
    return 0;
}

static struct vclient *client_new(struct cli *cli)
{
    cli->opts.endpoints = cli->eps.url;
    cli->opts.n_endpoints = cli->eps.n;
    struct vclient *c = vclient_new(&cli->opts);
    if (c == NULL)
        fprintf(stderr, "vesper: cannot create the client\n");
    return c;
}

static int run_kvcmd(struct cli *cli, int n, char **args)
{
    struct vclient *c = default_endpoints(cli) == 0 ? client_new(cli) : NULL;
    int rc = c ? kvcmd_run(c, &cli->kv, n, args) : 2;
    vclient_free(c);
    return rc < 0 ? usage("wrong arguments for this subcommand") : rc;
}

static int run_lease(struct cli *cli, int n, char **args)
{
    struct vclient *c = default_endpoints(cli) == 0 ? client_new(cli) : NULL;
    int rc = c ? leasecmd_run(c, &cli->lease, n, args) : 2;
    vclient_free(c);
    return rc < 0 ? usage("lease wants grant TTL, revoke ID, keepalive ID, list or info ID") : rc;
}

static int run(struct cli *cli)
{
    struct vclient *c = client_new(cli);
    if (c == NULL)
        return 2;
    if (cli->ttl != 0) { /* put --ttl (checked in main) */
        int rc = leasecmd_put_ttl(c, cli->req.key, cli->req.key_len, cli->req.value,
                                  cli->req.value_len, cli->ttl);
        vclient_free(c);
        return rc;
    }
    struct vclient_resp resp;
    enum vclient_status st = vclient_do(c, &cli->req, &resp);
    if (cli->opts.verbose)
        fprintf(stderr,
                "vesper: client_id %" PRIu64 " seq %" PRIu64 ", %d attempt(s), answer from %s\n",
                vclient_client_id(c), resp.seq, resp.attempts, resp.url ? resp.url : "-");
    if (resp.body != NULL && (fwrite(resp.body, 1, resp.body_len, stdout) != resp.body_len ||
                              putchar('\n') == EOF || fflush(stdout) != 0))
        fprintf(stderr, "vesper: cannot write the reply to stdout\n");
    if (st == VCLIENT_ERROR)
        fprintf(stderr, "vesper: %s\n", resp.error);
    else if (st == VCLIENT_FAIL && resp.url == NULL)
        fprintf(stderr, "vesper: gave up at the deadline; last answer above\n");
    int rc = st == VCLIENT_SUCCESS ? 0 : st == VCLIENT_FAIL ? 1 : 2;
    vclient_resp_free(&resp);
    vclient_free(c);
    return rc;
}

static int run_ops(struct cli *cli, int n, char **args)
{
    if (default_endpoints(cli) != 0)
        return 2;
    struct ops_args a = {.token = cli->opts.token,
                         .endpoints = cli->eps.url,
                         .n_endpoints = cli->eps.n,
                         .timeout_ms = cli->opts.timeout_ms ? cli->opts.timeout_ms : 5000,
                         .cacert = cli->opts.cacert,
                         .cert = cli->opts.cert,
                         .key = cli->opts.key};
    int rc = ops_run(&a, n, args);
    return rc < 0 ? usage("wrong arguments for this subcommand") : rc;
}

static int run_watch(struct cli *cli, int n, char **args)
{
    if (n != 2)
        return usage("watch wants one PREFIX (or KEY with --exact)");
    if (default_endpoints(cli) != 0)
        return 2;
    struct watchcmd_args a = {.endpoints = cli->eps.url,
                              .n_endpoints = cli->eps.n,
                              .what = args[1],
                              .exact = cli->watch_exact,
                              .from = cli->watch_from,
                              .give_up_ms = cli->opts.timeout_ms ? cli->opts.timeout_ms : 30000,
                              .token = cli->opts.token,
                              .cacert = cli->opts.cacert,
                              .cert = cli->opts.cert,
                              .key = cli->opts.key,
                              .verbose = cli->opts.verbose};
    return watchcmd_run(&a);
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int main(int argc, char **argv)
{
    static struct cli cli;
    int rc = 2;
    cli.opts.token = getenv("VESPER_TOKEN");
    cli.opts.cacert = env_or_null("VESPER_CACERT");
    cli.opts.cert = env_or_null("VESPER_CERT");
    cli.opts.key = env_or_null("VESPER_KEY");
    if (parse_options(&cli, argc, argv) != 0)
        goto out;
    if (optind < argc && ops_is_command(argv[optind])) {
        rc = run_ops(&cli, argc - optind, argv + optind);
        goto out;
    }
    if (optind < argc && strcmp(argv[optind], "watch") == 0) {
        rc = run_watch(&cli, argc - optind, argv + optind);
        goto out;
    }
    if (optind < argc && strcmp(argv[optind], "lease") == 0) {
        rc = run_lease(&cli, argc - optind, argv + optind);
        goto out;
    }
    if (optind < argc && kvcmd_is_command(argv[optind])) {
        rc = run_kvcmd(&cli, argc - optind, argv + optind);
        goto out;
    }
    if (parse_command(&cli, argc - optind, argv + optind) != 0)
        goto out;
    if (cli.ttl != 0 && cli.req.op != VCLIENT_PUT) {
        rc = usage("--ttl goes with put");
        goto out;
    }
    if (default_endpoints(&cli) != 0)
        goto out;
    rc = run(&cli);
out:
    endpoints_free(&cli.eps);
    free(cli.file_value);
    return rc;
}
