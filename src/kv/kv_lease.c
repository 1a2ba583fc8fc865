/* kv_lease.c: the lease table and the lease commands (see kv_lease.h).
 *
 * Leases sit in an array sorted by id (binary search; a grant or revoke moves
 * the tail, which is cheap for the thousands of leases a store holds), each
 * with an unordered array of copies of its keys. Everything that reaches a
 * reply, a snapshot or the watch history goes through id order or sorted keys,
 * so replicas that applied the same commands answer and encode alike whatever
 * order their key arrays ended up in. Out of memory while applying is
 * fail-stop, as everywhere in kv_apply.
 */
#include "kv/kv_lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_varint.h"

static void die_nomem(void)
{
    fprintf(stderr, "kv: out of memory applying a lease command; stopping to avoid divergence\n");
    abort();
}

static void lease_free(struct kv_lease *l)
{
    for (size_t i = 0; i < l->n_keys; i++)
        free(l->keys[i].p);
    free(l->keys);
    free(l);
}

void kv_leases_free(struct kv_leases *t)
{
    for (size_t i = 0; i < t->n; i++)
        lease_free(t->v[i]);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* Position of id in the table, or where it would go. */
static size_t seek(const struct kv_leases *t, uint64_t id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct kv_lease *find(const struct kv_leases *t, uint64_t id)
{
    size_t i = seek(t, id);
    return i < t->n && t->v[i]->id == id ? t->v[i] : NULL;
}

const struct kv_lease *kv_lease_find(const struct kv *kv, uint64_t id)
{
    return find(&kv->leases, id);
}

size_t kv_lease_count(const struct kv *kv)
{
    return kv->leases.n;
}

const struct kv_lease *kv_lease_at(const struct kv *kv, size_t i)
{
    return kv->leases.v[i];
}

/* Inserts a new lease; NULL on ENOMEM or when id exists. */
static struct kv_lease *insert(struct kv_leases *t, uint64_t id, uint64_t ttl_s, uint64_t index)
{
    size_t i = seek(t, id);
    if (i < t->n && t->v[i]->id == id)
        return NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct kv_lease **v = realloc(t->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    struct kv_lease *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->id = id;
    l->ttl_s = ttl_s;
    l->renewed_index = index;
    memmove(t->v + i + 1, t->v + i, (t->n - i) * sizeof *t->v);
    t->v[i] = l;
    t->n++;
    return l;
}

static void remove_lease(struct kv_leases *t, uint64_t id)
{
    size_t i = seek(t, id);
    if (i >= t->n || t->v[i]->id != id)
        return;
    lease_free(t->v[i]);
    memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof *t->v);
    t->n--;
}

static int add_key(struct kv_lease *l, const uint8_t *key, size_t key_len)
{
    if (l->n_keys == l->cap_keys) {
        size_t cap = l->cap_keys ? l->cap_keys * 2 : 4;
        struct kv_lease_key *k = realloc(l->keys, cap * sizeof *k);
        if (k == NULL)
            return -1;
        l->keys = k;
        l->cap_keys = cap;
    }
    uint8_t *p = malloc(key_len ? key_len : 1);
    if (p == NULL)
        return -1;
    memcpy(p, key, key_len);
    l->keys[l->n_keys++] = (struct kv_lease_key){p, (uint32_t)key_len};
    return 0;
}

static void drop_key(struct kv_lease *l, const uint8_t *key, size_t key_len)
{
    for (size_t i = 0; i < l->n_keys; i++) {
        if (l->keys[i].len == key_len && memcmp(l->keys[i].p, key, key_len) == 0) {
            free(l->keys[i].p);
            l->keys[i] = l->keys[--l->n_keys];
            return;
        }
    }
}

static int key_cmp(const void *a, const void *b)
{
    const struct kv_lease_key *x = *(const struct kv_lease_key *const *)a;
    const struct kv_lease_key *y = *(const struct kv_lease_key *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(x->p, y->p, n);
    return d ? d : (x->len > y->len) - (x->len < y->len);
}

const struct kv_lease_key **kv_lease_keys(const struct kv_lease *l, size_t *n)
{
    *n = l->n_keys;
    if (l->n_keys == 0)
        return NULL;
    const struct kv_lease_key **v = malloc(l->n_keys * sizeof *v);
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < l->n_keys; i++)
        v[i] = &l->keys[i];
    qsort(v, l->n_keys, sizeof *v, key_cmp);
    return v;
}

/* Moves key from lease `from` to lease `to` (either 0: none). */
static void reattach(struct kv *kv, const uint8_t *key, size_t key_len, uint64_t from, uint64_t to)
{
    if (from == to)
        return;
    struct kv_lease *old = from ? find(&kv->leases, from) : NULL;
    if (old != NULL)
        drop_key(old, key, key_len);
    struct kv_lease *l = to ? find(&kv->leases, to) : NULL;
    if (l != NULL && add_key(l, key, key_len) != 0)
        die_nomem();
}

void kv_lease_put(struct kv *kv, const uint8_t *key, size_t key_len, const uint8_t *value,
                  size_t value_len, uint64_t rev, uint64_t lease)
{
    const struct kv_rec *r = kv_map_get(&kv->map, key, key_len);
    uint64_t from = r ? r->lease : 0;
    if (kv_map_put_rev(&kv->map, key, key_len, value, value_len, rev) != 0)
        die_nomem();
    if (from == lease)
        return; /* the record kept its lease field (kv_map_put_rev) */
    /* The map owns the record; the lease field is the state machine's to set. */
    struct kv_rec *rec = (struct kv_rec *)kv_map_get(&kv->map, key, key_len);
    rec->lease = lease;
    reattach(kv, key, key_len, from, lease);
}

bool kv_lease_del(struct kv *kv, const uint8_t *key, size_t key_len)
{
    const struct kv_rec *r = kv_map_get(&kv->map, key, key_len);
    if (r == NULL)
        return false;
    reattach(kv, key, key_len, r->lease, 0);
    return kv_map_del(&kv->map, key, key_len) == 1;
}

/* The answer of a grant or keepalive: varint id, varint ttl, in kv->answer. */
static void set_answer(struct kv *kv, const struct kv_lease *l, struct kv_result *res)
{
    if (kv->answer_cap < 20) {
        uint8_t *b = realloc(kv->answer, 256);
        if (b == NULL)
            die_nomem();
        kv->answer = b;
        kv->answer_cap = 256;
    }
    uint8_t *p = kv_varint_put(kv->answer, l->id);
    p = kv_varint_put(p, l->ttl_s);
    kv->answer_len = (size_t)(p - kv->answer);
    res->has_current = true;
    res->current = kv->answer;
    res->current_len = kv->answer_len;
    res->lease_id = l->id;
    res->lease_ttl = l->ttl_s;
}

int kv_lease_answer_decode(const uint8_t *p, size_t len, uint64_t *id, uint64_t *ttl_s)
{
    struct kv_reader r = {p, len};
    if (kv_varint_get(&r, id) != 0 || kv_varint_get(&r, ttl_s) != 0 || r.left != 0)
        return -1;
    return 0;
}

static int grant(struct kv *kv, const struct kv_cmd *c, uint64_t index, struct kv_result *res)
{
    struct kv_leases *t = &kv->leases;
    uint64_t id = c->lease;
    if (id != 0 && find(t, id) != NULL)
        return KV_LEASE_EXISTS;
    if (id == 0) {
        if (t->next_id == 0)
            t->next_id = 1;
        while (find(t, t->next_id) != NULL)
            t->next_id = t->next_id >= KV_LEASE_MAX_ID ? 1 : t->next_id + 1;
        id = t->next_id;
        t->next_id = id >= KV_LEASE_MAX_ID ? 1 : id + 1;
    }
    struct kv_lease *l = insert(t, id, c->ttl, index);
    if (l == NULL)
        die_nomem();
    set_answer(kv, l, res);
    res->lease_event = KV_LEASE_EV_GRANTED;
    return KV_OK;
}

/* Deletes every key of l at one new revision (none if it has no keys), then l. */
static void revoke(struct kv *kv, struct kv_lease *l)
{
    size_t n;
    const struct kv_lease_key **keys = kv_lease_keys(l, &n);
    if (n > 0 && keys == NULL)
        die_nomem();
    uint64_t rev = kv->revision + 1;
    for (size_t i = 0; i < n; i++) {
        if (kv_map_del(&kv->map, keys[i]->p, keys[i]->len) == 1)
            kv_hist_record(kv, KV_EVENT_DELETE, keys[i]->p, keys[i]->len, rev);
    }
    if (n > 0)
        kv->revision = rev;
    free(keys);
    remove_lease(&kv->leases, l->id);
}

int kv_lease_run(struct kv *kv, const struct kv_cmd *c, uint64_t index, struct kv_result *res)
{
    if (c->op == KV_OP_LEASE_GRANT)
        return grant(kv, c, index, res);
    struct kv_lease *l = find(&kv->leases, c->lease);
    if (l == NULL)
        return c->op == KV_OP_LEASE_EXPIRE ? KV_OK : KV_LEASE_NOT_FOUND;
    res->lease_id = l->id;
    switch (c->op) {
    case KV_OP_LEASE_KEEPALIVE:
        l->renewed_index = index;
        set_answer(kv, l, res);
        res->lease_event = KV_LEASE_EV_RENEWED;
        return KV_OK;
    case KV_OP_LEASE_EXPIRE:
        if (l->renewed_index != c->renewed_index)
            return KV_OK; /* renewed since the leader decided: not expired */
        revoke(kv, l);
        res->lease_event = KV_LEASE_EV_EXPIRED;
        return KV_OK;
    default:
        revoke(kv, l);
        res->lease_event = KV_LEASE_EV_REVOKED;
        return KV_OK;
    }
}

int kv_lease_restore(struct kv *kv, uint64_t id, uint64_t ttl_s, uint64_t renewed_index)
{
    return insert(&kv->leases, id, ttl_s, renewed_index) != NULL ? 0 : -1;
}

int kv_lease_restore_key(struct kv *kv, uint64_t id, const uint8_t *key, size_t key_len)
{
    struct kv_lease *l = find(&kv->leases, id);
    if (l == NULL || l->n_keys >= KV_LEASE_MAX_KEYS)
        return -1;
    return add_key(l, key, key_len);
}
