/* fuzz_config.c: libFuzzer target for the ip_list parser (src/config.c).
 *
 * Byte 0 is the node id given on the command line (0..15, or a bad one); the rest
 * is written as the ip_list file and parsed by config_parse() exactly as
 * `vesperd <id> <file>` would. The same bytes, NUL-terminated, also go to
 * config_url_parse(). Properties: a parse either succeeds with a consistent cluster
 * (ids in range, majority = n/2 + 1, every node a host and a non-zero port, the
 * data directory derived from the id) or fails with a one-line, NUL-terminated
 * reason; a parsed URL's text and host are NUL-terminated inside their arrays.
 */
#include "fuzz/fuzz.h"

#include <string.h>

#include "config.h"

static void check_url(const struct config_url *u)
{
    FUZZ_CHECK(memchr(u->text, '\0', sizeof u->text) != NULL);
    FUZZ_CHECK(memchr(u->host, '\0', sizeof u->host) != NULL);
    FUZZ_CHECK(u->host[0] != '\0' && u->port != 0);
}

static void fuzz_url(const uint8_t *data, size_t size)
{
    char text[CONFIG_URL_MAX * 2];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    struct config_url u;
    char err[256];
    if (config_url_parse(text, &u, err, sizeof err) == 0)
        check_url(&u);
    else
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vesper_config cfg; /* large: keep it off the stack */
    if (size < 1 || size > (1u << 16))
        return 0;
    char path[512], id[16];
    fuzz_write_file("ip_list.txt", data + 1, size - 1, path, sizeof path);
    if (data[0] < 0xf0)
        snprintf(id, sizeof id, "%u", data[0] & 15);
    else
        snprintf(id, sizeof id, "%d", data[0] == 0xff ? -1 : 99999);
    char *argv[] = {"vesperd", id, path, NULL};
    char err[512];
    memset(err, 0x55, sizeof err);
    int rc = config_parse(3, argv, NULL, &cfg, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == 2);
    if (rc == 0) {
        FUZZ_CHECK(cfg.mode == CONFIG_MODE_SERVE);
        FUZZ_CHECK(cfg.n_nodes >= 1 && cfg.n_nodes <= CONFIG_MAX_NODES);
        FUZZ_CHECK(cfg.id >= 0 && cfg.id < cfg.n_nodes);
        FUZZ_CHECK(cfg.majority == cfg.n_nodes / 2 + 1);
        for (int i = 0; i < cfg.n_nodes; i++)
            check_url(&cfg.nodes[i]);
        FUZZ_CHECK(memchr(cfg.data_dir, '\0', sizeof cfg.data_dir) != NULL);
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        FUZZ_CHECK(strchr(err, '\n') == NULL);
    }
    fuzz_url(data + 1, size - 1);
    return 0;
}
