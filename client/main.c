/* main.c: the `vesper` command-line client: the commands and their output (the
 * options are options.c; the protocol, redirects and retries live in vclient.c).
 *
 * Two forms. The v1 form, the original client's: `vesper ADDRESS KEY [VALUE]`
 * (PUT with a value, GET without), speaking the v1 protocol byte for byte so
 * scripts written for the original client keep working. And subcommands that
 * take a list of endpoints and fail over.
 * Output is the server's JSON reply on stdout; diagnostics go to stderr.
 * Exit status: 0 success, 1 the cluster answered fail, 2 usage or no answer.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "endpoints.h"
#include "kvcmd.h"
#include "leasecmd.h"
#include "ops.h"
#include "vclient.h"
#include "watchcmd.h"

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
                "transfer, members, list, txn, lease, snapshot, watch and help; the v1 form is "
                "ADDRESS KEY [VALUE] with ADDRESS http://host:port\n",
                args[0]);
        fputs(cli_usage_text, stderr);
        return -1;
    }
    if (n != 2 + (with_value && !cli->has_file_value))
        return cli_usage("expected ADDRESS KEY [VALUE] or a subcommand"), -1;
    if (endpoints_prepend(&cli->eps, args[0]) != 0)
        return cli_usage("too many endpoints"), -1;
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
        return cli_usage(NULL), -1;
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
        return cli_usage("wrong number of arguments"), -1;
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
        return cli_usage("KEY must not be empty"), -1;
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
            return cli_usage("too many endpoints in $VESPER_ENDPOINTS");
    } else if (endpoints_default(&cli->eps, &source) != 0) {
        return cli_usage("no endpoints: give --endpoints, --ip-list or $VESPER_ENDPOINTS");
    }
    if (cli->eps.n == 0)
        return cli_usage("no endpoints: give --endpoints, --ip-list or $VESPER_ENDPOINTS");
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
    return rc < 0 ? cli_usage("wrong arguments for this subcommand") : rc;
}

static int run_lease(struct cli *cli, int n, char **args)
{
    struct vclient *c = default_endpoints(cli) == 0 ? client_new(cli) : NULL;
    int rc = c ? leasecmd_run(c, &cli->lease, n, args) : 2;
    vclient_free(c);
    return rc < 0 ? cli_usage("lease wants grant TTL, revoke ID, keepalive ID, list or info ID")
                  : rc;
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
    return rc < 0 ? cli_usage("wrong arguments for this subcommand") : rc;
}

static int run_watch(struct cli *cli, int n, char **args)
{
    if (n != 2)
        return cli_usage("watch wants one PREFIX (or KEY with --exact)");
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
    if (cli_parse_options(&cli, argc, argv) != 0)
        goto out;
    if (optind < argc && ops_is_command(argv[optind])) {
        rc = run_ops(&cli, argc - optind, argv + optind);
        goto out;
    }
    if (optind < argc && strcmp(argv[optind], "watch") == 0) {
        rc = run_watch(&cli, argc - optind, argv + optind);
        goto out;
    }
    if (optind < argc && strcmp(argv[optind], "help") == 0) {
        rc = fputs(cli_usage_text, stdout) == EOF ? 2 : 0;
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
        rc = cli_usage("--ttl goes with put");
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
