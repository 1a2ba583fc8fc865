/* codec_decode.c: decodes struct raft_msg and iterates over a batch of them (the
 * format and the reasons for it are in codec.c; the cursor in codec_int.h).
 *
 * Decoding reads through a cursor (struct rd) whose every read checks the bytes
 * left first; a failed read poisons the cursor, so callers check once at the end
 * of a group of reads. Counts are checked against the bytes left before anything
 * is allocated, so garbage cannot make us allocate more than ~len bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "net/codec.h"
#include "net/codec_int.h"

void codec_scratch_init(struct codec_scratch *s)
{
    memset(s, 0, sizeof *s);
}

void codec_scratch_free(struct codec_scratch *s)
{
    free(s->entries);
    codec_scratch_init(s);
}

static int scratch_entries(struct codec_scratch *s, uint32_t n)
{
    if (n <= s->cap)
        return RAFT_OK;
    struct raft_entry *e = realloc(s->entries, (size_t)n * sizeof *e);
    if (e == NULL)
        return RAFT_ENOMEM;
    s->entries = e;
    s->cap = n;
    return RAFT_OK;
}

static int decode_entries(struct rd *r, struct raft_msg *m, struct codec_scratch *s)
{
    uint32_t n = rd_u32(r);
    /* Bound the allocation by what the input can hold before allocating. */
    if (!r->ok || n > r->left / ENTRY_HEAD_BYTES)
        return RAFT_ECORRUPT;
    if (scratch_entries(s, n) != RAFT_OK)
        return RAFT_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct raft_entry *e = &s->entries[i];
        e->term = rd_uint(r, 8);
        e->index = rd_uint(r, 8);
        e->type = rd_u8(r);
        e->len = rd_u32(r);
        /* The core takes entries through a const message and copies them. */
        e->data = (uint8_t *)(uintptr_t)rd_take(r, e->len);
        if (!r->ok || e->type < RAFT_ENTRY_NOOP || e->type > RAFT_ENTRY_CONF)
            return RAFT_ECORRUPT;
        if (e->len == 0)
            e->data = NULL;
    }
    m->n_entries = n;
    m->entries = n > 0 ? s->entries : NULL;
    return RAFT_OK;
}

static int decode_tail(struct rd *r, uint8_t flags, struct raft_msg *m, struct codec_scratch *s)
{
    if (m->type == RAFT_MSG_APPEND) {
        int rc = decode_entries(r, m, s);
        if (rc != RAFT_OK)
            return rc;
    }
    if (flags & F_CONF) {
        uint32_t n = rd_u32(r);
        const uint8_t *c = rd_take(r, n);
        if (!r->ok || n > CODEC_CONF_MAX_BYTES || m->type != RAFT_MSG_SNAPSHOT ||
            raft_conf_decode(&s->conf, c, n) != RAFT_OK)
            return RAFT_ECORRUPT;
        m->conf = &s->conf;
    }
    if (m->type == RAFT_MSG_SNAPSHOT) {
        m->len = rd_u32(r);
        m->data = rd_take(r, m->len);
        if (m->len == 0)
            m->data = NULL;
    }
    return r->ok && r->left == 0 ? RAFT_OK : RAFT_ECORRUPT;
}

int codec_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *m, struct codec_scratch *s)
{
    struct rd r = {.p = buf, .left = len, .ok = true};
    memset(m, 0, sizeof *m);
    if (len > CODEC_MSG_MAX_BYTES)
        return RAFT_ECORRUPT;
    m->type = rd_u8(&r);
    uint8_t flags = rd_u8(&r);
    m->from = rd_u32(&r);
    m->to = rd_u32(&r);
    uint16_t present = (uint16_t)rd_uint(&r, 2);
    if (!r.ok || m->type < 1 || m->type > RAFT_MSG_TYPE_MAX || (flags & ~F_ALL) ||
        present >= (1u << N_U64))
        return RAFT_ECORRUPT;
    for (size_t i = 0; i < N_U64; i++)
        if (present & (1u << i))
            *field(m, i) = rd_uint(&r, 8);
    m->prevote = flags & F_PREVOTE;
    m->transfer = flags & F_TRANSFER;
    m->granted = flags & F_GRANTED;
    m->reject = flags & F_REJECT;
    m->done = flags & F_DONE;
    return decode_tail(&r, flags, m, s);
}

int codec_batch_iter_init(struct codec_batch_iter *it, const uint8_t *buf, size_t len)
{
    struct rd r = {.p = buf, .left = len, .ok = true};
    memset(it, 0, sizeof *it);
    uint8_t version = rd_u8(&r);
    uint32_t count = rd_u32(&r);
    /* Every message takes at least its prefix and header. */
    if (!r.ok || version != CODEC_VERSION || count > CODEC_BATCH_MAX_MSGS ||
        count > r.left / (4 + HEADER_BYTES))
        return RAFT_ECORRUPT;
    it->buf = buf;
    it->len = len;
    it->pos = CODEC_BATCH_HEADER_BYTES;
    it->count = count;
    return RAFT_OK;
}

int codec_batch_next(struct codec_batch_iter *it, struct raft_msg *m, struct codec_scratch *s)
{
    if (it->buf == NULL)
        return -RAFT_ECORRUPT;
    if (it->seen == it->count) {
        if (it->pos == it->len)
            return 0;
        it->buf = NULL;
        return -RAFT_ECORRUPT;
    }
    struct rd r = {.p = it->buf + it->pos, .left = it->len - it->pos, .ok = true};
    uint32_t n = rd_u32(&r);
    const uint8_t *body = rd_take(&r, n);
    int rc = r.ok ? codec_msg_decode(body, n, m, s) : RAFT_ECORRUPT;
    if (rc != RAFT_OK) {
        it->buf = NULL;
        return -rc;
    }
    it->pos += 4 + n;
    it->seen++;
    return 1;
}
