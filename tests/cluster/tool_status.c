/* tool_status.c: the /status readers of build/cluster-tool (see cluster_tool.c for usage).
 *
 *   states:  "id role leader term commit applied last snapshot" per node
 *   members: "id voters=A,B,.. learners=C,.." per node (the configuration it follows, ids
 *            ascending)
 *
 * Both print one line per node with "-" for what a node does not say (a node that does not
 * answer within 500 ms says nothing), so the suite's bash polls can compare plain strings.
 * The suite polls them often, so they are C rather than a python process per poll.
 */
#include "cluster_tool.h"
#include "lib/tls_env.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GET /status of node id; NULL when it does not answer with a JSON object. */
static json_object *status_fetch(CURL *curl, int id)
{
    static struct tool_buf buf;
    char url[160];
    snprintf(url, sizeof url, "%s/status", tool_urls[id]);
    buf.len = 0;
    json_object *st = NULL;
    if (curl_easy_setopt(curl, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, tool_collect) == CURLE_OK &&
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf) == CURLE_OK &&
        curl_easy_perform(curl) == CURLE_OK && buf.len > 0)
        st = json_tokener_parse(buf.data);
    if (st && !json_object_is_type(st, json_type_object)) {
        json_object_put(st);
        st = NULL;
    }
    return st;
}

/* Prints one /status as a line of columns. */
static void print_state(CURL *curl, int id)
{
    static const char *const fields[] = {
        "role", "leader", "term", "commit_index", "applied_index", "last_index", "snapshot_index"};
    json_object *st = status_fetch(curl, id);
    printf("%d", id);
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        json_object *v = NULL;
        bool has = st && json_object_object_get_ex(st, fields[f], &v) && v;
        printf(" %s", has ? json_object_get_string(v) : "-");
    }
    printf("\n");
    json_object_put(st);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Writes the ids of the members with role `role` to out as "A,B,..", ascending, so that
 * configurations compare as strings whatever order the entry lists them in. */
static void member_ids(json_object *members, const char *role, char *out, size_t cap)
{
    long ids[64];
    size_t n = 0, len = 0;
    for (size_t k = 0; k < json_object_array_length(members) && n < 64; k++) {
        json_object *m = json_object_array_get_idx(members, k), *id, *r;
        if (json_object_object_get_ex(m, "id", &id) && json_object_object_get_ex(m, "role", &r) &&
            strcmp(json_object_get_string(r), role) == 0)
            ids[n++] = (long)json_object_get_int64(id);
    }
    qsort(ids, n, sizeof ids[0], cmp_long);
    out[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        int w = snprintf(out + len, cap - len, "%s%ld", k ? "," : "", ids[k]);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

/* Prints "id voters=.. learners=.." for one node, or "id -". */
static void print_members(CURL *curl, int id)
{
    json_object *st = status_fetch(curl, id), *members = NULL;
    if (st && json_object_object_get_ex(st, "members", &members) &&
        json_object_is_type(members, json_type_array)) {
        char voters[256], learners[256];
        member_ids(members, "voter", voters, sizeof voters);
        member_ids(members, "learner", learners, sizeof learners);
        printf("%d voters=%s learners=%s\n", id, voters, learners);
    } else {
        printf("%d -\n", id);
    }
    json_object_put(st);
}

static int for_nodes(char **ids, int n_ids, void (*fn)(CURL *, int))
{
    CURL *curl = curl_easy_init();
    if (!curl || curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 500L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK || !tls_env_apply(curl))
        return 2;
    int n = (int)tool_n_eps;
    for (int i = 0; i < (n_ids > 0 ? n_ids : n); i++) {
        int id = n_ids > 0 ? atoi(ids[i]) : i;
        if (id >= 0 && id < n)
            fn(curl, id);
    }
    curl_easy_cleanup(curl);
    return fflush(stdout) == 0 ? 0 : 2;
}

int tool_states(char **ids, int n_ids)
{
    return for_nodes(ids, n_ids, print_state);
}

int tool_members(char **ids, int n_ids)
{
    return for_nodes(ids, n_ids, print_members);
}
