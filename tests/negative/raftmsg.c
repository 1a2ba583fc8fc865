/* raftmsg.c: writes one peer batch (the body of POST /raft) to stdout, for the
 * negative suite (tests/negative/negative.py) to send to a live vesperd.
 *
 *   build/neg-raftmsg type=append from=7 to=0 term=99 index=1 log_term=1 commit=9 \
 *                     entries=2 entry_term=99 put=KEY:VALUE count=1
 *
 * Keys: type (vote vote_resp append append_resp heartbeat heartbeat_resp snapshot
 * snapshot_resp timeout_now), from, to, term, index, log_term, commit, hint_index,
 * seq, snap_index, snap_term, snap_size, offset, len (snapshot chunk bytes), prevote,
 * transfer, granted, reject, done, conf (1: a one-member configuration), entries (N
 * NORMAL entries at index+1..), entry_term, put (the entries carry a kv PUT of
 * KEY:VALUE, so an accepted entry would change the store), entry_type (normal, noop or
 * conf; a conf entry carries the put bytes, i.e. garbage as a configuration), count (the message N
 * times in one batch). The messages are encoded with the real codec, so they are
 * valid on the wire and wrong only in what they claim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_cmd.h"
#include "net/codec.h"

static const char *const type_names[] = {
    "",          "vote",           "vote_resp", "append",        "append_resp",
    "heartbeat", "heartbeat_resp", "snapshot",  "snapshot_resp", "timeout_now"};

struct opts {
    struct raft_msg m;
    uint32_t entries, count;
    uint8_t entry_type;
    raft_term entry_term;
    const char *put;
    const char *data_file;
    char *members;
    bool conf;
};

static uint64_t num(const char *v)
{
    return strtoull(v, NULL, 0);
}

static int set_field(struct opts *o, const char *k, const char *v)
{
    struct raft_msg *m = &o->m;
    static const struct {
        const char *name;
        size_t off;
    } u64s[] = {{"term", offsetof(struct raft_msg, term)},
                {"index", offsetof(struct raft_msg, index)},
                {"log_term", offsetof(struct raft_msg, log_term)},
                {"commit", offsetof(struct raft_msg, commit)},
                {"hint_index", offsetof(struct raft_msg, hint_index)},
                {"seq", offsetof(struct raft_msg, seq)},
                {"snap_index", offsetof(struct raft_msg, snap_index)},
                {"snap_term", offsetof(struct raft_msg, snap_term)},
                {"snap_size", offsetof(struct raft_msg, snap_size)},
                {"offset", offsetof(struct raft_msg, offset)}};
    for (size_t i = 0; i < sizeof u64s / sizeof u64s[0]; i++)
        if (strcmp(k, u64s[i].name) == 0) {
            uint64_t x = num(v);
            memcpy((char *)m + u64s[i].off, &x, sizeof x);
            return 0;
        }
    if (strcmp(k, "type") == 0) {
        for (uint8_t t = 1; t <= RAFT_MSG_TYPE_MAX; t++)
            if (strcmp(v, type_names[t]) == 0)
                m->type = t;
        return m->type ? 0 : -1;
    }
    if (strcmp(k, "from") == 0)
        m->from = (raft_id)num(v);
    else if (strcmp(k, "to") == 0)
        m->to = (raft_id)num(v);
    else if (strcmp(k, "len") == 0)
        m->len = (uint32_t)num(v);
    else if (strcmp(k, "prevote") == 0)
        m->prevote = num(v) != 0;
    else if (strcmp(k, "transfer") == 0)
        m->transfer = num(v) != 0;
    else if (strcmp(k, "granted") == 0)
        m->granted = num(v) != 0;
    else if (strcmp(k, "reject") == 0)
        m->reject = num(v) != 0;
    else if (strcmp(k, "done") == 0)
        m->done = num(v) != 0;
    else if (strcmp(k, "conf") == 0)
        o->conf = num(v) != 0;
    else if (strcmp(k, "entries") == 0)
        o->entries = (uint32_t)num(v);
    else if (strcmp(k, "entry_type") == 0)
        o->entry_type = strcmp(v, "conf") == 0   ? RAFT_ENTRY_CONF
                        : strcmp(v, "noop") == 0 ? RAFT_ENTRY_NOOP
                                                 : RAFT_ENTRY_NORMAL;
    else if (strcmp(k, "entry_term") == 0)
        o->entry_term = num(v);
    else if (strcmp(k, "count") == 0)
        o->count = (uint32_t)num(v);
    else if (strcmp(k, "put") == 0)
        o->put = v;
    else if (strcmp(k, "data") == 0)
        o->data_file = v;
    else if (strcmp(k, "members") == 0)
        o->members = (char *)v;
    else
        return -1;
    return 0;
}

/* The PUT command every entry carries (or none). */
static int make_cmd(const char *put, uint8_t **cmd, size_t *len)
{
    *cmd = NULL;
    *len = 0;
    if (put == NULL)
        return 0;
    const char *colon = strchr(put, ':');
    if (colon == NULL || colon == put)
        return -1;
    struct kv_cmd c = {.op = KV_OP_PUT,
                       .key = (const uint8_t *)put,
                       .key_len = (size_t)(colon - put),
                       .value = (const uint8_t *)colon + 1,
                       .value_len = strlen(colon + 1)};
    return kv_cmd_encode_alloc(&c, cmd, len);
}

/* The whole file, or NULL. */
static uint8_t *read_file(const char *path, uint32_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = f ? malloc(1u << 24) : NULL;
    size_t n = buf ? fread(buf, 1, 1u << 24, f) : 0;
    if (f)
        fclose(f);
    if (buf == NULL || n == 0 || n == 1u << 24) {
        free(buf);
        fprintf(stderr, "raftmsg: cannot read %s\n", path);
        return NULL;
    }
    *len = (uint32_t)n;
    return buf;
}

static int members_conf(char *list, struct raft_conf *conf)
{
    conf->n = 0;
    for (char *url = strtok(list, ","); url; url = strtok(NULL, ",")) {
        if (conf->n == RAFT_MAX_MEMBERS || strlen(url) >= sizeof conf->m[0].addr)
            return -1;
        conf->m[conf->n] = (struct raft_member){.id = (raft_id)conf->n, .voter = true};
        snprintf(conf->m[conf->n].addr, sizeof conf->m[0].addr, "%s", url);
        conf->n++;
    }
    return conf->n ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct opts o = {.count = 1};
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || (*eq = '\0', set_field(&o, argv[i], eq + 1) != 0)) {
            fprintf(stderr, "raftmsg: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    uint8_t *cmd;
    size_t cmd_len;
    if (o.m.type == 0 || make_cmd(o.put, &cmd, &cmd_len) != 0) {
        fprintf(stderr, "raftmsg: need type=..., put=KEY:VALUE\n");
        return 2;
    }
    struct raft_entry *e = calloc(o.entries ? o.entries : 1, sizeof *e);
    uint8_t *chunk =
        o.data_file ? read_file(o.data_file, &o.m.len) : calloc(o.m.len ? o.m.len : 1, 1);
    struct raft_conf conf = {.n = 1};
    conf.m[0] = (struct raft_member){.id = 0, .voter = true, .addr = "http://127.0.0.1:1"};
    if (e == NULL || chunk == NULL || (o.members && members_conf(o.members, &conf) != 0))
        return 1;
    if (o.members)
        o.conf = true;
    for (uint32_t i = 0; i < o.entries; i++)
        e[i] = (struct raft_entry){.term = o.entry_term ? o.entry_term : o.m.term,
                                   .index = o.m.index + 1 + i,
                                   .type = o.entry_type ? o.entry_type : RAFT_ENTRY_NORMAL,
                                   .len = (uint32_t)cmd_len,
                                   .data = cmd};
    o.m.n_entries = o.entries;
    o.m.entries = o.entries ? e : NULL;
    o.m.conf = o.conf ? &conf : NULL;
    o.m.data = o.m.len ? chunk : NULL;
    struct codec_buf b;
    codec_buf_init(&b);
    if (codec_batch_begin(&b) != RAFT_OK)
        return 1;
    for (uint32_t i = 0; i < o.count; i++)
        if (codec_batch_add(&b, &o.m) != RAFT_OK) {
            fprintf(stderr, "raftmsg: cannot encode the message\n");
            return 1;
        }
    int bad = fwrite(b.p, 1, b.len, stdout) != b.len || fflush(stdout) != 0;
    codec_buf_free(&b);
    free(cmd);
    free(e);
    free(chunk);
    return bad;
}
