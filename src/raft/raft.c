/* raft.c: construction, the step dispatcher and the term rules every message
 * passes through, and the small shared utilities (trace, PRNG, outboxes).
 *
 * raft_step() first applies the term rules of Figure 2 ("if RPC request or
 * response contains term T > currentTerm: set currentTerm = T, convert to
 * follower"), refined by Pre-Vote and leader stickiness (thesis 9.6, 4.2.3), and
 * only then hands the message to the handler of its type. Handlers can therefore
 * assume m->term == r->term, except for the pre-vote messages whose term is the
 * candidate's next term.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *raft_strerror(int err)
{
    static const char *const text[] = {
#define RAFT__TEXT(code, str) str,
        RAFT_ERRORS(RAFT__TEXT)
#undef RAFT__TEXT
    };
    if (err < 0 || (size_t)err >= sizeof text / sizeof text[0])
        return "unknown error";
    return text[err];
}

const char *raft_role_name(enum raft_role role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_PRECANDIDATE:
        return "precandidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    }
    return "?";
}

const char *raft_msg_name(int type)
{
    static const char *const names[] = {
        "?",         "vote",           "vote_resp", "append",        "append_resp",
        "heartbeat", "heartbeat_resp", "snapshot",  "snapshot_resp", "timeout_now"};
    if (type < 0 || type > RAFT_MSG_TYPE_MAX)
        return "?";
    return names[type];
}

/* ===== Utilities ===== */

/* A tiny formatter: %s and %u (unsigned long long). The core may not use stdio. */
static size_t put_str(char *buf, size_t pos, size_t cap, const char *s)
{
    while (*s && pos + 1 < cap)
        buf[pos++] = *s++;
    return pos;
}

static size_t put_u64(char *buf, size_t pos, size_t cap, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && pos + 1 < cap)
        buf[pos++] = tmp[--n];
    return pos;
}

void raft__tracef(struct raft *r, const char *fmt, ...)
{
    if (!r->cfg.trace)
        return;
    char buf[256];
    size_t pos = put_u64(buf, 0, sizeof buf, r->cfg.id);
    pos = put_str(buf, pos, sizeof buf, ": ");
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p == '%' && p[1] == 's') {
            pos = put_str(buf, pos, sizeof buf, va_arg(ap, const char *));
            p++;
        } else if (*p == '%' && p[1] == 'u') {
            pos = put_u64(buf, pos, sizeof buf, va_arg(ap, unsigned long long));
            p++;
        } else if (pos + 1 < sizeof buf) {
            buf[pos++] = *p;
        }
    }
    va_end(ap);
    buf[pos] = '\0';
    r->cfg.trace(r->cfg.trace_arg, buf);
}

/* splitmix64: small, fast, and good enough to spread election timeouts. */
uint64_t raft__rand(struct raft *r)
{
    uint64_t z = (r->prng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int push_msg(struct raft__msgbuf *b, struct raft_msg *m)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct raft_msg *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return RAFT_ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *m;
    return RAFT_OK;
}

int raft__send(struct raft *r, struct raft_msg *m)
{
    m->from = r->cfg.id;
    if (!m->term)
        m->term = r->term;
    return push_msg(&r->out, m);
}

int raft__send_sync(struct raft *r, struct raft_msg *m)
{
    m->from = r->cfg.id;
    if (!m->term)
        m->term = r->term;
    return push_msg(&r->out_sync, m);
}

bool raft__is_voter(const struct raft *r, raft_id id)
{
    const struct raft_member *mb = raft_conf_find(&r->conf, id);
    return mb && mb->voter;
}

uint32_t raft__quorum(const struct raft *r)
{
    return raft_conf_voters(&r->conf) / 2 + 1;
}

/* ===== Construction ===== */

void raft_config_defaults(struct raft_config *cfg, raft_id id, uint64_t seed)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->id = id;
    cfg->election_ticks = 10;
    cfg->heartbeat_ticks = 1;
    cfg->seed = seed;
    cfg->max_append_bytes = 1 << 20;
    cfg->max_inflight = 64;
    cfg->snapshot_chunk_bytes = 1 << 20;
    cfg->pre_vote = true;
    cfg->check_quorum = true;
}

static int load_entries(struct raft *r, const struct raft_boot *b)
{
    for (size_t k = 0; k < b->n_entries; k++) {
        const struct raft_entry *e = &b->entries[k];
        if (e->index <= b->snap_index)
            continue;
        if (e->index != raft__log_last(&r->log) + 1 || e->term < raft__log_last_term(&r->log))
            return RAFT_ECORRUPT;
        int rv = raft__log_append(&r->log, e);
        if (rv)
            return rv;
    }
    return RAFT_OK;
}

int raft_new(struct raft **out, const struct raft_config *cfg, const struct raft_boot *b)
{
    if (!cfg->election_ticks || !cfg->heartbeat_ticks || !cfg->max_inflight ||
        cfg->heartbeat_ticks >= cfg->election_ticks || !cfg->snapshot_chunk_bytes)
        return RAFT_EINVAL;
    struct raft *r = calloc(1, sizeof *r);
    if (!r)
        return RAFT_ENOMEM;
    r->cfg = *cfg;
    if (r->cfg.max_inflight > RAFT__INFLIGHT_MAX)
        r->cfg.max_inflight = RAFT__INFLIGHT_MAX;
    r->prng = cfg->seed ^ ((uint64_t)cfg->id << 32);
    r->term = b->hs.term;
    r->vote = b->hs.vote;
    r->hs_saved = b->hs;
    r->snap_index = b->snap_index;
    r->snap_term = b->snap_term;
    r->snap_size = b->snap_size;
    r->snap_conf = b->snap_index ? b->snap_conf : b->initial;
    r->conf = r->snap_conf;
    r->base_conf = r->snap_conf;
    raft__log_init(&r->log, b->snap_index, b->snap_term);
    int rv = load_entries(r, b);
    if (rv) {
        raft_free(r);
        return rv;
    }
    r->log.written = r->log.durable = raft__log_last(&r->log);
    raft__conf_recompute(r);
    r->applied = b->snap_index;
    r->commit = b->hs.commit > b->snap_index ? b->hs.commit : b->snap_index;
    if (r->commit > raft__log_last(&r->log))
        r->commit = raft__log_last(&r->log);
    r->hs_saved.commit = r->commit;
    r->role = RAFT_FOLLOWER;
    r->leader = RAFT_NONE;
    r->transferee = RAFT_NONE;
    raft__reset_timeout(r);
    *out = r;
    return RAFT_OK;
}

void raft_free(struct raft *r)
{
    if (!r)
        return;
    raft__log_free(&r->log);
    free(r->out.v);
    free(r->out_sync.v);
    free(r->reads);
    free(r->results);
    free(r->chunk_buf);
    free(r);
}

/* ===== Step ===== */

/* Leader stickiness (thesis 4.2.3): a node that heard from a leader within the
 * minimum election timeout ignores vote requests, so a partitioned or removed
 * server cannot depose a healthy leader. A transfer overrides it. */
static bool in_lease(const struct raft *r, const struct raft_msg *m)
{
    return r->cfg.check_quorum && !m->transfer && r->leader != RAFT_NONE &&
           r->election_elapsed < r->cfg.election_ticks;
}

static void reply_stale(struct raft *r, const struct raft_msg *m)
{
    /* A stale leader learns of the newer term from the rejection and steps down;
     * without this, Pre-Vote could leave it stranded (etcd #8501). */
    if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
        m->type == RAFT_MSG_SNAPSHOT) {
        struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from, .reject = true};
        raft__send_sync(r, &resp);
    } else if (m->type == RAFT_MSG_VOTE) {
        struct raft_msg resp = {.type = RAFT_MSG_VOTE_RESP, .to = m->from, .prevote = m->prevote};
        raft__send_sync(r, &resp);
    }
}

/* Returns false when the message must not be processed further. */
static bool term_rules(struct raft *r, const struct raft_msg *m)
{
    if (m->term > r->term) {
        if (m->type == RAFT_MSG_VOTE && in_lease(r, m)) {
            raft__tracef(r, "ignore %s from %u term %u -> in leader lease", raft_msg_name(m->type),
                         (unsigned long long)m->from, (unsigned long long)m->term);
            return false;
        }
        if (m->type == RAFT_MSG_VOTE && m->prevote)
            return true; /* a pre-vote never changes our term */
        if (m->type == RAFT_MSG_VOTE_RESP && m->prevote && m->granted)
            return true; /* carries the term the pre-candidate would use */
        bool from_leader = m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
                           m->type == RAFT_MSG_SNAPSHOT;
        raft__tracef(r, "recv %s from %u term %u > %u -> follower", raft_msg_name(m->type),
                     (unsigned long long)m->from, (unsigned long long)m->term,
                     (unsigned long long)r->term);
        raft__become_follower(r, m->term, from_leader ? m->from : RAFT_NONE);
        return true;
    }
    if (m->term < r->term) {
        /* Figure 2: "reply false if term < currentTerm", whatever the options. A node
         * that never campaigns (a learner, or one whose term a removed node's votes
         * raised) has no other way to move a stale leader on. */
        reply_stale(r, m);
        return false;
    }
    return true;
}

static void touch_progress(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER)
        return;
    struct raft__progress *pr = raft__progress(r, m->from);
    if (pr) {
        pr->active = true;
        pr->since_contact = 0;
    }
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
    /* Terms grow by one per election; a term near 2^64 can only be forged, and
     * adopting it would let the next election wrap the term to zero. */
    if (m->term > UINT64_MAX / 2)
        return RAFT_ECORRUPT;
    /* Likewise indexes grow by one per entry, and the core's index arithmetic (the
     * entry after a snapshot, the last entry of a batch) would wrap near 2^64. */
    const raft_index lim = UINT64_MAX / 2;
    if (m->index > lim || m->commit > lim || m->hint_index > lim || m->snap_index > lim ||
        m->log_term > lim || m->snap_term > lim)
        return RAFT_ECORRUPT;
    if (m->type < RAFT_MSG_VOTE || m->type > RAFT_MSG_TYPE_MAX || m->from == r->cfg.id ||
        m->from == RAFT_NONE || m->to != r->cfg.id || m->term == 0 || (m->n_entries && !m->entries))
        return RAFT_ECORRUPT;
    if (!term_rules(r, m))
        return RAFT_OK;
    touch_progress(r, m);
    switch (m->type) {
    case RAFT_MSG_VOTE:
        raft__recv_vote(r, m);
        break;
    case RAFT_MSG_VOTE_RESP:
        raft__recv_vote_resp(r, m);
        break;
    case RAFT_MSG_APPEND:
        raft__recv_append(r, m);
        break;
    case RAFT_MSG_APPEND_RESP:
        raft__recv_append_resp(r, m);
        break;
    case RAFT_MSG_HEARTBEAT:
        raft__recv_heartbeat(r, m);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        raft__recv_heartbeat_resp(r, m);
        break;
    case RAFT_MSG_SNAPSHOT:
        raft__recv_snapshot(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        raft__recv_snapshot_resp(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        raft__recv_timeout_now(r, m);
        break;
    }
    return RAFT_OK;
}

void raft_tick(struct raft *r)
{
    if (r->role == RAFT_LEADER)
        raft__tick_leader(r);
    else
        raft__tick_election(r);
}

void raft_campaign(struct raft *r)
{
    if (r->role != RAFT_LEADER && raft__is_voter(r, r->cfg.id))
        raft__start_election(r, false, false);
}

int raft_propose(struct raft *r, const void *data, uint32_t len, raft_index *index, raft_term *term)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (r->transferee != RAFT_NONE)
        return RAFT_EBUSY;
    int rv = raft__append_local(r, RAFT_ENTRY_NORMAL, data, len);
    if (rv)
        return rv;
    if (index)
        *index = raft__log_last(&r->log);
    if (term)
        *term = r->term;
    return RAFT_OK;
}

int raft_read(struct raft *r, uint64_t read_id)
{
    return raft__read_request(r, read_id);
}
