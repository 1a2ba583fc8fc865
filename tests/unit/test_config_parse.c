/* test_config_parse.c: vesperd's configuration parser (src/config.c): defaults, the ip_list.txt
 * contract and every error it names, environment variables and their precedence, modes.
 * ip_list files are written into a mkdtemp() directory removed at the end of each test.
 */
#include "config.h"
#include "lib/test.h"
#include "raft/raft.h" /* the limits config.h mirrors */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    char path[128];
    struct vesper_config cfg;
    char err[512];
};

/* Creates a temp dir with ip_list.txt holding text (NULL: no file). */
static int fixture_init(struct fixture *fx, const char *text)
{
    snprintf(fx->dir, sizeof fx->dir, "/tmp/vesper-config-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->path, sizeof fx->path, "%s/ip_list.txt", fx->dir);
    if (!text)
        return 0;
    FILE *f = fopen(fx->path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f) ? -1 : 0;
}

static void fixture_done(struct fixture *fx)
{
    unlink(fx->path);
    rmdir(fx->dir);
}

/* Runs config_parse on a space-separated argument string ("@" stands for the ip_list path). */
static int run(struct fixture *fx, const char *args, char **envp)
{
    char buf[1024], *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", args);
    argv[argc++] = "vesperd";
    for (char *tok = strtok(buf, " "); tok && argc < 31; tok = strtok(NULL, " "))
        argv[argc++] = strcmp(tok, "@") == 0 ? fx->path : tok;
    argv[argc] = NULL;
    return config_parse(argc, argv, envp, &fx->cfg, fx->err, sizeof fx->err);
}

static const char *five =
    "http://127.0.0.1:5000\nhttp://127.0.0.1:5001\nhttp://127.0.0.1:5002\n"
    "http://127.0.0.1:5003\nhttp://127.0.0.1:5004\n";

/* Expects exit 2 and an error equal to want, where "@" in want is the ip_list path. */
static int expect_error(const char *text, const char *args, char **envp, const char *want)
{
    struct fixture fx;
    if (fixture_init(&fx, text))
        return 0;
    int rc = run(&fx, args, envp);
    char expected[512], *at = strchr(want, '@');
    if (at)
        snprintf(expected, sizeof expected, "%.*s%s%s", (int)(at - want), want, fx.path, at + 1);
    else
        snprintf(expected, sizeof expected, "%s", want);
    fixture_done(&fx);
    if (rc == 2 && strcmp(fx.err, expected) == 0 && !strchr(fx.err, '\n'))
        return 1;
    fprintf(stderr, "  args '%s': rc %d err '%s'\n  want '%s'\n", args, rc, fx.err, expected);
    return 0;
}

TEST(config_defaults)
{
    struct fixture fx;
    CHECK(fixture_init(&fx, five) == 0);
    int rc = run(&fx, "2 @", NULL);
    fixture_done(&fx);
    CHECK_EQ_U64(rc, 0);
    struct vesper_config *c = &fx.cfg;
    CHECK(c->mode == CONFIG_MODE_SERVE);
    CHECK_EQ_U64(c->id, 2);
    CHECK_EQ_U64(c->n_nodes, 5);
    CHECK_EQ_U64(c->majority, 3);
    CHECK(strcmp(c->nodes[4].host, "127.0.0.1") == 0 && c->nodes[4].port == 5004);
    CHECK(strcmp(c->data_dir, "./data/2") == 0);
    CHECK_EQ_U64(c->tick_ms, 10);
    CHECK_EQ_U64(c->heartbeat_ms, 50);
    CHECK_EQ_U64(c->election_timeout_ms, 500);
    CHECK_EQ_U64(c->snapshot_entries, 100000);
    CHECK_EQ_U64(c->snapshot_bytes, 64 * 1024 * 1024);
    CHECK_EQ_U64(c->max_key_bytes, 1024);
    CHECK_EQ_U64(c->max_value_bytes, 1024 * 1024);
    CHECK_EQ_U64(c->max_body_bytes, 4 * 1024 * 1024);
    CHECK(c->log_level == CONFIG_LOG_INFO && !c->log_json && !c->forward && !c->join);
    CHECK(strcmp(c->listen_host, "0.0.0.0") == 0 && c->listen_port == 5002);
    CHECK(strcmp(c->advertise_url.text, "http://127.0.0.1:5002") == 0);
    CHECK(c->cluster_secret_file[0] == '\0');
}

TEST(config_ip_list_accepts_crlf_whitespace_https_and_no_final_newline)
{
    struct fixture fx;
    CHECK(fixture_init(&fx, "http://a.example:80\r\n  https://[::1]:8443/ \t\nhttp://b:1") == 0);
    /* An https:// line of our own needs a certificate (config_tls.c). */
    int rc = run(&fx, "1 @ --tls-cert-file c.pem --tls-key-file k.pem", NULL);
    fixture_done(&fx);
    CHECK_EQ_U64(rc, 0);
    CHECK_EQ_U64(fx.cfg.n_nodes, 3);
    CHECK_EQ_U64(fx.cfg.majority, 2);
    CHECK(strcmp(fx.cfg.nodes[0].text, "http://a.example:80") == 0);
    CHECK(fx.cfg.nodes[1].https && strcmp(fx.cfg.nodes[1].host, "::1") == 0);
    CHECK_EQ_U64(fx.cfg.nodes[1].port, 8443);
    CHECK_EQ_U64(fx.cfg.listen_port, 8443);
    CHECK(strcmp(fx.cfg.nodes[2].host, "b") == 0);
}

TEST(config_ip_list_errors)
{
    CHECK(expect_error(NULL, "0 @", NULL, "@: cannot read: No such file or directory"));
    CHECK(expect_error("", "0 @", NULL, "@: no nodes (the file is empty)"));
    CHECK(expect_error("http://a:1\n\nhttp://b:2\n", "0 @", NULL,
                       "@:2: blank line (node ids are line numbers; remove blank lines)"));
    CHECK(expect_error("http://a:1\nhttp://b:2\n\n", "0 @", NULL,
                       "@:3: blank line (node ids are line numbers; remove blank lines)"));
    CHECK(expect_error("http://a:1\n  \r\n", "0 @", NULL,
                       "@:2: blank line (node ids are line numbers; remove blank lines)"));
    CHECK(expect_error("http://a:1\nhttp://b:2\nhttp://A:1/\n", "0 @", NULL,
                       "@:3: duplicate URL 'http://A:1/' (same host and port as line 1)"));
    CHECK(expect_error("ftp://a:1\n", "0 @", NULL,
                       "@:1: malformed URL 'ftp://a:1': scheme must be http:// or https://"));
    CHECK(expect_error("127.0.0.1:5000\n", "0 @", NULL,
                       "@:1: malformed URL '127.0.0.1:5000': scheme must be http:// or https://"));
    CHECK(expect_error("http://:5000\n", "0 @", NULL,
                       "@:1: malformed URL 'http://:5000': missing host"));
    CHECK(expect_error("http://a\n", "0 @", NULL,
                       "@:1: malformed URL 'http://a': missing port (write http://host:port)"));
    CHECK(expect_error("https://a:x\n", "0 @", NULL,
                       "@:1: malformed URL 'https://a:x': missing port (write https://host:port)"));
    CHECK(expect_error("http://a:65536\n", "0 @", NULL,
                       "@:1: malformed URL 'http://a:65536': port 65536 out of range 1..65535"));
    CHECK(expect_error("http://a:0\n", "0 @", NULL,
                       "@:1: malformed URL 'http://a:0': port 0 out of range 1..65535"));
    CHECK(expect_error("http://a:80/request\n", "0 @", NULL,
                       "@:1: malformed URL 'http://a:80/request': unexpected '/request' after "
                       "the port (no path, query or user)"));
    CHECK(expect_error("http://u@a:80\n", "0 @", NULL,
                       "@:1: malformed URL 'http://u@a:80': user info is not allowed"));
    CHECK(expect_error("http://a b:80\n", "0 @", NULL,
                       "@:1: malformed URL 'http://a b:80': bad character ' ' in host"));
}

/* Regression: a 17-line ip_list was accepted and overflowed the 16-member Raft
 * configuration the node boots with; URLs longer than a member address were cut short. */
TEST(config_ip_list_fits_the_raft_configuration)
{
    char text[17 * 32] = "";
    for (int i = 0; i < 17; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "http://10.0.0.%d:5000\n", i);
    char *sixteen = strdup(text);
    CHECK(sixteen);
    *strstr(sixteen, "http://10.0.0.16:") = '\0';
    struct fixture fx;
    CHECK(fixture_init(&fx, sixteen) == 0);
    int rc = run(&fx, "15 @", NULL);
    fixture_done(&fx);
    free(sixteen);
    CHECK_EQ_U64(rc, 0);
    CHECK_EQ_U64(fx.cfg.n_nodes, RAFT_MAX_MEMBERS);
    CHECK(expect_error(text, "0 @", NULL,
                       "@:17: more than 16 nodes (a Raft configuration holds at most 16 members)"));
}

TEST(config_urls_fit_a_member_address)
{
    char url[RAFT_ADDR_MAX + 16], list[RAFT_ADDR_MAX + 64], want[512];
    /* "http://" + host + ":5000" = RAFT_ADDR_MAX - 1 bytes: the longest that fits. */
    size_t host = RAFT_ADDR_MAX - 1 - strlen("http://") - strlen(":5000");
    snprintf(url, sizeof url, "http://%0*d:5000", (int)host, 0);
    memset(url + 7, 'h', host);
    CHECK_EQ_U64(strlen(url), RAFT_ADDR_MAX - 1);
    snprintf(list, sizeof list, "%s\n", url);
    struct fixture fx;
    CHECK(fixture_init(&fx, list) == 0);
    int rc = run(&fx, "0 @", NULL);
    fixture_done(&fx);
    CHECK_EQ_U64(rc, 0);
    CHECK(strcmp(fx.cfg.nodes[0].text, url) == 0);
    /* One byte more is refused, in the ip_list and in --advertise-url alike. */
    memmove(url + 8, url + 7, strlen(url + 7) + 1);
    CHECK_EQ_U64(strlen(url), RAFT_ADDR_MAX);
    snprintf(list, sizeof list, "%s\n", url);
    snprintf(want, sizeof want, "@:1: malformed URL '%s': longer than 127 bytes", url);
    CHECK(expect_error(list, "0 @", NULL, want));
    char args[512];
    snprintf(args, sizeof args, "0 @ --advertise-url %s", url);
    snprintf(want, sizeof want, "--advertise-url: malformed URL '%s': longer than 127 bytes", url);
    CHECK(expect_error(five, args, NULL, want));
}

TEST(config_id_errors)
{
    CHECK(expect_error(five, "5 @", NULL, "id 5 out of range: @ has 5 nodes (ids 0..4)"));
    CHECK(expect_error("http://a:1\n", "1 @", NULL, "id 1 out of range: @ has 1 node (ids 0..0)"));
    CHECK(expect_error(five, "x @", NULL, "id 'x' is not a number"));
    CHECK(expect_error(five, "-1 @", NULL, "id '-1' is not a number"));
    CHECK(expect_error(five, "1x @", NULL, "id '1x' is not a number"));
    CHECK(expect_error(five, "", NULL,
                       "missing <id> and <ip_list_file> (usage: vesperd <id> <ip_list_file> "
                       "[options]; see --help)"));
    CHECK(expect_error(five, "0", NULL,
                       "missing <ip_list_file> (usage: vesperd <id> <ip_list_file> [options]; "
                       "see --help)"));
    CHECK(expect_error(five, "0 @ extra", NULL, "unexpected argument 'extra' (see --help)"));
}

TEST(config_option_errors)
{
    CHECK(expect_error(five, "0 @ --bogus 1", NULL, "unknown option '--bogus' (see --help)"));
    CHECK(expect_error(five, "0 @ --heartbeat-ms", NULL, "--heartbeat-ms needs a value (MS)"));
    CHECK(expect_error(five, "0 @ --heartbeat-ms=fast", NULL,
                       "--heartbeat-ms: 'fast' is not a number"));
    CHECK(expect_error(five, "0 @ --tick-ms 0", NULL, "--tick-ms: 0 out of range 1..10000"));
    CHECK(expect_error(five, "0 @ --max-body-bytes 99999999", NULL,
                       "--max-body-bytes: 99999999 out of range 1024..33554432"));
    CHECK(expect_error(five, "0 @ --log-level loud", NULL,
                       "--log-level: 'loud' is not debug, info, warn or error"));
    CHECK(
        expect_error(five, "0 @ --forward=maybe", NULL, "--forward: 'maybe' is not true or false"));
    CHECK(expect_error(five, "0 @ --listen 5000", NULL,
                       "--listen: '5000' is not ADDR:PORT (port 1..65535)"));
    CHECK(expect_error(five, "0 @ --advertise-url localhost:1", NULL,
                       "--advertise-url: malformed URL 'localhost:1': scheme must be http:// or "
                       "https://"));
    CHECK(expect_error(five, "0 @ --heartbeat-ms 200", NULL,
                       "--election-timeout-ms (500) must be at least 5 x --heartbeat-ms (200)"));
    CHECK(expect_error(five, "0 @ --tick-ms 7", NULL,
                       "--heartbeat-ms (50) and --election-timeout-ms (500) must be multiples "
                       "of --tick-ms (7)"));
    CHECK(expect_error(five, "0 @ --max-body-bytes 1048576", NULL,
                       "--max-body-bytes (1048576) must be at least --max-key-bytes + "
                       "--max-value-bytes (1049600)"));
}

TEST(config_options_and_derived_values)
{
    struct fixture fx;
    CHECK(fixture_init(&fx, five) == 0);
    int rc = run(&fx,
                 "--data-dir /var/lib/vesper 4 @ --election-timeout-ms=1000 --heartbeat-ms 100 "
                 "--log-level debug --log-json --forward --join=false --listen [::]:7000 "
                 "--advertise-url https://kv.example:443 --cluster-secret-file /run/secret",
                 NULL);
    fixture_done(&fx);
    CHECK_EQ_U64(rc, 0);
    struct vesper_config *c = &fx.cfg;
    CHECK_EQ_U64(c->id, 4);
    CHECK(strcmp(c->data_dir, "/var/lib/vesper") == 0);
    CHECK_EQ_U64(c->election_timeout_ms, 1000);
    CHECK_EQ_U64(c->heartbeat_ms, 100);
    CHECK(c->log_level == CONFIG_LOG_DEBUG && c->log_json && c->forward && !c->join);
    CHECK(strcmp(c->listen_host, "::") == 0 && c->listen_port == 7000);
    CHECK(c->advertise_url.https && c->advertise_url.port == 443);
    CHECK(strcmp(c->cluster_secret_file, "/run/secret") == 0);
}

/* The derived limits keep one chain intact: the largest entry fits an APPEND, the APPEND
 * fits a peer batch, the batch fits the body limit of the node receiving it. */
static int limits_consistent(const struct vesper_config *c)
{
    uint64_t key = c->max_key_bytes, value = c->max_value_bytes, body = c->max_body_bytes;
    uint64_t cas_entry = key + 2 * value < body ? key + 2 * value : body;
    return c->max_entry_bytes >= cas_entry + 36 && /* kv_cmd's fixed bytes, at most */
           c->max_entry_bytes + CONFIG_APPEND_OVERHEAD_BYTES <= c->peer_batch_bytes &&
           c->peer_batch_bytes <= c->http_body_bytes &&
           c->http_body_bytes <= CONFIG_MAX_BODY_BYTES_LIMIT &&
           c->http_body_bytes >= c->max_body_bytes;
}

/* Regression: 16 MiB values were accepted while peer batches were capped at 8 MiB and
 * /raft bodies at --max-body-bytes: such an entry was never delivered. */
TEST(config_size_limits_derived_and_consistent)
{
    struct fixture fx;
    CHECK(fixture_init(&fx, five) == 0);
    int rc_def = run(&fx, "0 @", NULL);
    struct vesper_config def = fx.cfg;
    int rc_big = run(&fx, "0 @ --max-value-bytes 16777216 --max-body-bytes 17825792", NULL);
    struct vesper_config big = fx.cfg;
    int bad = 0;
    static const uint32_t keys[] = {1, 1024, 65536};
    static const uint32_t values[] = {1, 1000, 1 << 20, 5 << 20, 12 << 20, 16 << 20};
    static const uint32_t bodies[] = {1024, 4 << 20, 17 << 20, 30 << 20, 32 << 20};
    for (size_t k = 0; k < 3; k++)
        for (size_t v = 0; v < 6; v++)
            for (size_t b = 0; b < 5; b++) {
                char args[160];
                snprintf(args, sizeof args,
                         "0 @ --max-key-bytes %u --max-value-bytes %u --max-body-bytes %u", keys[k],
                         values[v], bodies[b]);
                int rc = run(&fx, args, NULL);
                bad += !(rc == 2 || (rc == 0 && limits_consistent(&fx.cfg)));
            }
    fixture_done(&fx);
    CHECK_EQ_U64(bad, 0);
    CHECK_EQ_U64(rc_def, 0);
    CHECK(limits_consistent(&def));
    CHECK_EQ_U64(def.peer_batch_bytes, CONFIG_PEER_BATCH_MIN_BYTES);
    CHECK_EQ_U64(def.http_body_bytes, CONFIG_PEER_BATCH_MIN_BYTES);
    CHECK_EQ_U64(def.peer_io_timeout_ms, 1000);
    CHECK_EQ_U64(rc_big, 0);
    CHECK(limits_consistent(&big));
    CHECK_EQ_U64(big.max_entry_bytes, (17u << 20) + CONFIG_ENTRY_OVERHEAD_BYTES);
    CHECK_EQ_U64(big.peer_io_timeout_ms, 1000 + 12 * 1000); /* 19 MiB + 320 bytes */
    CHECK(expect_error(five, "0 @ --max-value-bytes 16777216 --max-body-bytes 33554432", NULL,
                       "--max-key-bytes (1024), --max-value-bytes (16777216) and --max-body-bytes "
                       "(33554432) allow log entries of 33554496 bytes, whose peer batches "
                       "(35651904 bytes) would exceed the 33554432-byte body limit: lower "
                       "--max-body-bytes to at most 31456960"));
}

TEST(config_env_and_precedence)
{
    char *envp[] = {
        "PATH=/bin",         "VESPER_HEARTBEAT_MS=20",        "VESPER_ELECTION_TIMEOUT_MS=300",
        "VESPER_LOG_JSON=1", "VESPER_FORWARD=true",           "VESPER_DATA_DIR=/env/data",
        "VESPER_LISTEN=",    "VESPER_PROBE=http://ignored:1", NULL};
    struct fixture fx;
    CHECK(fixture_init(&fx, five) == 0);
    int rc = run(&fx, "1 @ --heartbeat-ms 40 --forward=false", envp);
    fixture_done(&fx);
    CHECK_EQ_U64(rc, 0);
    struct vesper_config *c = &fx.cfg;
    CHECK(c->mode == CONFIG_MODE_SERVE);       /* modes are command line only */
    CHECK_EQ_U64(c->heartbeat_ms, 40);         /* command line beats env */
    CHECK_EQ_U64(c->election_timeout_ms, 300); /* env beats default */
    CHECK(c->log_json && !c->forward);
    CHECK(strcmp(c->data_dir, "/env/data") == 0);
    CHECK_EQ_U64(c->listen_port, 5001); /* empty variable = unset */
    char *bad[] = {"VESPER_SNAPSHOT_ENTRIES=lots", NULL};
    CHECK(expect_error(five, "0 @", bad, "VESPER_SNAPSHOT_ENTRIES: 'lots' is not a number"));
}

TEST(config_modes_and_help)
{
    struct fixture fx;
    CHECK(fixture_init(&fx, NULL) == 0);
    int rc_check = run(&fx, "--check-data /data/0", NULL);
    enum config_mode m1 = fx.cfg.mode;
    int ok1 = strcmp(fx.cfg.check_data_dir, "/data/0") == 0;
    int rc_probe = run(&fx, "--probe http://127.0.0.1:5000", NULL);
    enum config_mode m2 = fx.cfg.mode;
    int ok2 = fx.cfg.probe_url.port == 5000;
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    int rc_help = stdout ? run(&fx, "0 @ --help", NULL) : -1;
    if (stdout)
        fclose(stdout);
    stdout = saved;
    fixture_done(&fx);
    CHECK(rc_check == 0 && m1 == CONFIG_MODE_CHECK_DATA && ok1);
    CHECK(rc_probe == 0 && m2 == CONFIG_MODE_PROBE && ok2);
    CHECK_EQ_U64(rc_help, 1);
    CHECK(expect_error(NULL, "--probe http://a:1 --check-data /d", NULL,
                       "--check-data and --probe cannot be combined"));
    CHECK(
        expect_error(NULL, "0 @ --probe http://a:1", NULL, "--probe takes no <id> <ip_list_file>"));
    CHECK(expect_error(NULL, "--probe a:1", NULL,
                       "--probe: malformed URL 'a:1': scheme must be http:// or https://"));
}

TEST(config_restore_mode_and_cluster_token)
{
    struct fixture fx;
    CHECK(fixture_init(&fx, five) == 0);
    int rc = run(&fx, "--restore /b.vsb 2 @ --data-dir /d/2", NULL);
    int ok = rc == 0 && fx.cfg.mode == CONFIG_MODE_RESTORE && fx.cfg.id == 2 &&
             strcmp(fx.cfg.restore_file, "/b.vsb") == 0 && strcmp(fx.cfg.data_dir, "/d/2") == 0 &&
             strcmp(fx.cfg.cluster_token, "vesper") == 0;
    char *env[] = {"VESPER_CLUSTER_TOKEN=blue", NULL};
    int rc_env = run(&fx, "0 @", env);
    int ok_env = fx.cfg.mode == CONFIG_MODE_SERVE && strcmp(fx.cfg.cluster_token, "blue") == 0;
    char *env_mode[] = {"VESPER_RESTORE=/b.vsb", NULL};
    int rc_env_mode = run(&fx, "0 @", env_mode);
    enum config_mode m = fx.cfg.mode;
    fixture_done(&fx);
    CHECK(ok);
    CHECK(rc_env == 0 && ok_env);
    CHECK(rc_env_mode == 0 && m == CONFIG_MODE_SERVE); /* modes are command line only */
    CHECK(expect_error(NULL, "--restore /b.vsb", NULL,
                       "missing <id> and <ip_list_file> (usage: vesperd <id> <ip_list_file> "
                       "[options]; see --help)"));
    CHECK(expect_error(NULL, "--restore /b.vsb --check-data /d", NULL,
                       "--restore cannot be combined with --check-data"));
}

TEST(config_tls_combinations)
{
    static const char *tls3 =
        "https://127.0.0.1:5000\nhttps://127.0.0.1:5001\n"
        "https://127.0.0.1:5002\n";
    static const char *mixed = "https://127.0.0.1:5000\nhttp://127.0.0.1:5001\n";
    CHECK(expect_error(tls3, "0 @ --tls-cert-file c.pem", NULL,
                       "--tls-cert-file given without --tls-key-file (a certificate needs its "
                       "key)"));
    CHECK(expect_error(tls3, "0 @ --tls-key-file k.pem", NULL,
                       "--tls-key-file given without --tls-cert-file (a certificate needs its "
                       "key)"));
    CHECK(expect_error(tls3, "0 @ --peer-ca-file ca.pem --peer-cert-file p.pem", NULL,
                       "peer TLS needs all of --peer-ca-file, --peer-cert-file and "
                       "--peer-key-file (missing --peer-key-file)"));
    CHECK(expect_error(tls3, "0 @", NULL,
                       "@:1: https://127.0.0.1:5000 is https:// but no certificate is "
                       "configured (--tls-cert-file and --tls-key-file)"));
    CHECK(expect_error(five, "0 @ --tls-cert-file c.pem --tls-key-file k.pem", NULL,
                       "--tls-cert-file serves HTTPS but this node's line 1 of @ is "
                       "http://127.0.0.1:5000 (write https://)"));
    CHECK(expect_error(
        mixed, "0 @ --peer-ca-file ca.pem --peer-cert-file p.pem --peer-key-file k.pem", NULL,
        "@:2: http://127.0.0.1:5001: with peer TLS every node's URL must be "
        "https://"));
    /* Client TLS alone may sit beside plain peers; peer TLS alone serves its certificate. */
    struct fixture fx;
    CHECK(fixture_init(&fx, mixed) == 0);
    int rc1 = run(&fx, "0 @ --tls-cert-file c.pem --tls-key-file k.pem", NULL);
    fixture_done(&fx);
    CHECK_EQ_U64(rc1, 0);
    CHECK(config_serves_tls(&fx.cfg) && strcmp(fx.cfg.tls_cert_file, "c.pem") == 0);
    char *env[] = {"VESPER_PEER_CA_FILE=ca.pem", "VESPER_PEER_CERT_FILE=p.pem",
                   "VESPER_PEER_KEY_FILE=k.pem", NULL};
    CHECK(fixture_init(&fx, tls3) == 0);
    int rc2 = run(&fx, "2 @", env);
    fixture_done(&fx);
    CHECK_EQ_U64(rc2, 0);
    CHECK(config_serves_tls(&fx.cfg) && strcmp(fx.cfg.peer_key_file, "k.pem") == 0);
    CHECK(!fx.cfg.tls_cert_file[0]);
}

TEST(config_usage_lists_every_option_with_env)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    config_usage(f);
    fclose(f);
    int ok = strstr(buf, "--election-timeout-ms MS") && strstr(buf, "VESPER_ELECTION_TIMEOUT_MS") &&
             strstr(buf, "VESPER_CLUSTER_SECRET_FILE") && strstr(buf, "--probe URL") &&
             strstr(buf, "(command line only)") && strstr(buf, "default 500;") &&
             strstr(buf, "VESPER_TLS_CERT_FILE") && strstr(buf, "VESPER_PEER_CA_FILE");
    free(buf);
    CHECK(ok);
}

int main(int argc, char **argv)
{
    return test_main(argc, argv);
}

TEST(config_watch_options)
{
    struct fixture fx;
    CHECK(fixture_init(&fx, five) == 0);
    int rc = run(&fx, "0 @", NULL);
    fixture_done(&fx);
    CHECK_EQ_U64(rc, 0);
    CHECK_EQ_U64(fx.cfg.watch_history_events, 10000);
    CHECK_EQ_U64(fx.cfg.watch_history_bytes, 16 * 1024 * 1024);
    CHECK_EQ_U64(fx.cfg.watch_max_lag, 1000);
    char *envp[] = {"VESPER_WATCH_MAX_LAG=20", "VESPER_WATCH_HISTORY_BYTES=65536", NULL};
    CHECK(fixture_init(&fx, five) == 0);
    rc = run(&fx, "0 @ --watch-history-events 2000", envp);
    fixture_done(&fx);
    CHECK_EQ_U64(rc, 0);
    CHECK_EQ_U64(fx.cfg.watch_history_events, 2000);
    CHECK_EQ_U64(fx.cfg.watch_history_bytes, 65536);
    CHECK_EQ_U64(fx.cfg.watch_max_lag, 20);
    CHECK(expect_error(five, "0 @ --watch-max-lag 0", NULL,
                       "--watch-max-lag: 0 out of range 1..100000000"));
}
