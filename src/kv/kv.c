/* kv.c: command application for the replicated state machine (see kv.h).
 *
 * The exactly-once check runs before the command touches the map, and the
 * session records the status the command produced, so a retry that arrives
 * after a leader change (the same entry proposed twice under different indexes)
 * is answered with the first outcome, byte for byte (a failed CAS reports the
 * value it saw then). Stale seqs are refused outright: a client only sends seq
 * n+1 after it saw the answer for n, so an older seq is a delayed duplicate
 * whose answer the client no longer waits for. A retry whose session was
 * evicted gets KV_SESSION_EXPIRED rather than a second application.
 */
#include "kv/kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_cmd.h"
#include "kv/kv_txn.h"

const char *kv_status_str(enum kv_status st)
{
    switch (st) {
#define KV_STATUS_CASE(name, value, str) \
    case name:                           \
        return str;
        KV_STATUS_TABLE(KV_STATUS_CASE)
#undef KV_STATUS_CASE
    }
    return "unknown";
}

struct kv *kv_new(size_t max_sessions)
{
    struct kv *kv = calloc(1, sizeof *kv);
    if (kv == NULL)
        return NULL;
    kv_map_init(&kv->map);
    if (kv_sessions_init(&kv->sessions, max_sessions) != 0) {
        free(kv);
        return NULL;
    }
    return kv;
}

void kv_free(struct kv *kv)
{
    if (kv == NULL)
        return;
    kv_map_free(&kv->map);
    kv_sessions_free(&kv->sessions);
    kv_hist_free(&kv->hist);
    kv_leases_free(&kv->leases);
    free(kv->answer);
    free(kv);
}

static void die_nomem(const char *what)
{
    fprintf(stderr, "kv: out of memory applying %s; stopping to avoid divergence\n", what);
    abort();
}

static void set_current(const struct kv *kv, const struct kv_cmd *c, struct kv_result *res)
{
    const struct kv_rec *r = kv_map_get(&kv->map, c->key, c->key_len);
    if (r != NULL) {
        res->has_current = true;
        res->current = kv_rec_value(r);
        res->current_len = r->value_len;
    }
}

/* CAS is a transaction of one compare and one put (kv_txn.h) with its own answer:
 * the value it saw when the compare failed. */
static enum kv_status run_cas(struct kv *kv, const struct kv_cmd *c, struct kv_result *res)
{
    struct kv_txn_cmp cmp = {.target = c->expect_absent ? KV_TXN_EXISTS : KV_TXN_VALUE,
                             .op = KV_TXN_EQ,
                             .key = c->key,
                             .key_len = c->key_len,
                             .value = c->expected,
                             .value_len = c->expected_len,
                             .number = 0};
    if (!kv_txn_compare(kv, &cmp)) {
        set_current(kv, c, res);
        return KV_CAS_MISMATCH;
    }
    kv_lease_put(kv, c->key, c->key_len, c->value, c->value_len, kv->revision + 1, c->lease);
    kv->revision++;
    kv_hist_record(kv, KV_EVENT_PUT, c->key, c->key_len, kv->revision);
    return KV_OK;
}

static enum kv_status run_txn(struct kv *kv, const struct kv_cmd *c, struct kv_result *res)
{
    struct kv_txn *t = malloc(sizeof *t);
    if (t == NULL)
        die_nomem("TXN");
    int rc = kv_txn_decode(c->txn, c->txn_len, t);
    if (rc == 0)
        kv_txn_run(kv, t, res);
    free(t);
    return rc == 0 ? res->status : KV_BAD_COMMAND; /* kv_cmd_decode checked the body */
}

static enum kv_status run(struct kv *kv, const struct kv_cmd *c, struct kv_result *res)
{
    if ((c->op == KV_OP_PUT || c->op == KV_OP_CAS) && c->lease != 0 &&
        kv_lease_find(kv, c->lease) == NULL)
        return KV_LEASE_NOT_FOUND; /* nothing written */
    switch (c->op) {
    case KV_OP_PUT:
        kv_lease_put(kv, c->key, c->key_len, c->value, c->value_len, kv->revision + 1, c->lease);
        kv->revision++;
        kv_hist_record(kv, KV_EVENT_PUT, c->key, c->key_len, kv->revision);
        return KV_OK;
    case KV_OP_DELETE:
        if (!kv_lease_del(kv, c->key, c->key_len))
            return KV_NOT_FOUND;
        kv->revision++;
        kv_hist_record(kv, KV_EVENT_DELETE, c->key, c->key_len, kv->revision);
        return KV_OK;
    case KV_OP_CAS:
        return run_cas(kv, c, res);
    case KV_OP_TXN:
        return run_txn(kv, c, res);
    case KV_OP_LEASE_GRANT:
    case KV_OP_LEASE_REVOKE:
    case KV_OP_LEASE_KEEPALIVE:
    case KV_OP_LEASE_EXPIRE:
        return kv_lease_run(kv, c, kv->applied_index, res);
    default:
        return KV_BAD_COMMAND; /* unreachable: kv_cmd_decode checked op */
    }
}

/* Exactly-once gate for a client that has been evicted from the live table:
 * its last seq was applied and its answer is gone (see kv_session.h). */
static bool expired_answers(struct kv *kv, const struct kv_cmd *c, struct kv_result *res)
{
    const struct kv_session *x = kv_sessions_find_expired(&kv->sessions, c->client_id);
    if (x == NULL || c->seq > x->seq)
        return false;
    res->status = c->seq < x->seq ? KV_STALE_SEQ : KV_SESSION_EXPIRED;
    return true;
}

/* Exactly-once gate: true when the command must not run; *res is then set to
 * the answer the first application gave (status and, for a failed CAS, the
 * value it saw then, not the value now). */
static bool session_answers(struct kv *kv, const struct kv_cmd *c, struct kv_result *res)
{
    struct kv_session *s = kv_sessions_find(&kv->sessions, c->client_id);
    if (s == NULL)
        return expired_answers(kv, c, res);
    if (c->seq > s->seq)
        return false;
    kv_sessions_touch(&kv->sessions, s);
    if (c->seq < s->seq) {
        res->status = KV_STALE_SEQ;
        res->revision = kv->revision;
        return true;
    }
    res->status = (enum kv_status)s->result;
    res->revision = s->revision;
    res->duplicate = true;
    res->has_current = s->has_current;
    res->current = s->current;
    res->current_len = s->current_len;
    return true;
}

void kv_apply(struct kv *kv, uint64_t index, uint64_t term, const uint8_t *cmd, size_t len,
              struct kv_result *res)
{
    memset(res, 0, sizeof *res);
    if (index <= kv->applied_index) {
        res->status = KV_ALREADY_APPLIED;
        return;
    }
    kv->applied_index = index;
    kv->applied_term = term;
    struct kv_cmd c;
    res->revision = kv->revision;
    if (kv_cmd_decode(cmd, len, &c) != 0) {
        res->status = KV_BAD_COMMAND;
        return;
    }
    if (c.has_session && session_answers(kv, &c, res))
        return;
    res->status = run(kv, &c, res);
    res->revision = kv->revision;
    kv_hist_trim(kv);
    if (c.has_session) {
        if (kv_sessions_record(&kv->sessions, c.client_id, c.seq, (uint8_t)res->status,
                               res->has_current, res->current, res->current_len) != 0)
            die_nomem("session");
        kv_sessions_find(&kv->sessions, c.client_id)->revision = res->revision;
    }
    /* Recording copies the answer and moves no map record, so res->current (if
     * set) is still valid. */
}

void kv_set_applied(struct kv *kv, uint64_t index, uint64_t term)
{
    if (index <= kv->applied_index)
        return;
    kv->applied_index = index;
    kv->applied_term = term;
}

uint64_t kv_applied_index(const struct kv *kv)
{
    return kv->applied_index;
}

uint64_t kv_applied_term(const struct kv *kv)
{
    return kv->applied_term;
}

uint64_t kv_revision(const struct kv *kv)
{
    return kv->revision;
}

const struct kv_rec *kv_get(const struct kv *kv, const void *key, size_t key_len)
{
    return kv_map_get(&kv->map, key, key_len);
}
