/* membership.c: cluster configuration, single-server changes and leadership
 * transfer.
 *
 * A configuration takes effect on a server as soon as its entry is in the log,
 * committed or not (thesis 4.1), so the current configuration is always "the
 * latest CONF entry in the log, else the one at the log's start". A truncation
 * that removes that entry reverts to the previous one. The leader allows one
 * change at a time, and none before it has committed an entry of its own term:
 * that closes the single-server change bug found after the thesis (raft-dev,
 * 2015). New members join as learners, which replicate but neither vote nor
 * count towards a quorum, and are promoted once they are nearly caught up.
 */
#include "internal.h"

#include <string.h>

/* ===== Encoding: version byte, member count, then (id, voter, addr) ===== */

#define CONF_VERSION 1

static size_t put32(uint8_t *buf, size_t pos, size_t cap, uint32_t v)
{
    for (int k = 0; k < 4; k++, pos++)
        if (pos < cap)
            buf[pos] = (uint8_t)(v >> (8 * k));
    return pos;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t raft_conf_encode(const struct raft_conf *c, uint8_t *buf, size_t cap)
{
    size_t pos = 0;
    if (pos < cap)
        buf[pos] = CONF_VERSION;
    pos = put32(buf, pos + 1, cap, c->n);
    for (uint32_t k = 0; k < c->n; k++) {
        const struct raft_member *mb = &c->m[k];
        size_t len = strnlen(mb->addr, RAFT_ADDR_MAX - 1);
        pos = put32(buf, pos, cap, mb->id);
        if (pos < cap)
            buf[pos] = mb->voter;
        pos++;
        pos = put32(buf, pos, cap, (uint32_t)len);
        for (size_t i = 0; i < len; i++, pos++)
            if (pos < cap)
                buf[pos] = (uint8_t)mb->addr[i];
    }
    return pos;
}

int raft_conf_decode(struct raft_conf *c, const uint8_t *buf, size_t len)
{
    memset(c, 0, sizeof *c);
    if (len < 5 || buf[0] != CONF_VERSION)
        return RAFT_ECORRUPT;
    uint32_t n = get32(buf + 1);
    if (n > RAFT_MAX_MEMBERS)
        return RAFT_ECORRUPT;
    size_t pos = 5;
    for (uint32_t k = 0; k < n; k++) {
        if (len - pos < 9)
            return RAFT_ECORRUPT;
        struct raft_member *mb = &c->m[k];
        mb->id = get32(buf + pos);
        mb->voter = buf[pos + 4] != 0;
        uint32_t alen = get32(buf + pos + 5);
        pos += 9;
        if (alen >= RAFT_ADDR_MAX || len - pos < alen || mb->id == RAFT_NONE ||
            raft_conf_find(c, mb->id)) /* c->n == k: finds earlier duplicates only */
            return RAFT_ECORRUPT;
        memcpy(mb->addr, buf + pos, alen);
        pos += alen;
        c->n = k + 1;
    }
    return pos == len ? RAFT_OK : RAFT_ECORRUPT;
}

const struct raft_member *raft_conf_find(const struct raft_conf *c, raft_id id)
{
    for (uint32_t k = 0; k < c->n; k++)
        if (c->m[k].id == id)
            return &c->m[k];
    return NULL;
}

uint32_t raft_conf_voters(const struct raft_conf *c)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < c->n; k++)
        n += c->m[k].voter;
    return n;
}

/* ===== The configuration in force ===== */

static void scan(const struct raft *r, raft_index upto, struct raft_conf *c, raft_index *at)
{
    for (raft_index i = r->log.offset + 1; i <= upto; i++) {
        const struct raft_entry *e = raft__log_get(&r->log, i);
        struct raft_conf tmp;
        if (e->type == RAFT_ENTRY_CONF && raft_conf_decode(&tmp, e->data, e->len) == RAFT_OK) {
            *c = tmp;
            if (at)
                *at = i;
        }
    }
}

void raft__conf_recompute(struct raft *r)
{
    r->conf = r->base_conf;
    r->conf_index = 0;
    scan(r, raft__log_last(&r->log), &r->conf, &r->conf_index);
    if (r->role == RAFT_LEADER)
        raft__progress_rebuild(r);
}

void raft__conf_at(const struct raft *r, raft_index index, struct raft_conf *out)
{
    *out = r->base_conf;
    scan(r, index, out, NULL);
}

void raft__conf_compacting(struct raft *r, raft_index upto)
{
    scan(r, upto, &r->base_conf, NULL);
}

void raft__conf_changed(struct raft *r)
{
    raft_index last = raft__log_last(&r->log);
    const struct raft_entry *e = raft__log_get(&r->log, last);
    struct raft_conf c;
    if (raft_conf_decode(&c, e->data, e->len) != RAFT_OK) {
        raft__tracef(r, "conf entry %u undecodable -> ignored", (unsigned long long)last);
        return;
    }
    r->conf = c;
    r->conf_index = last;
    raft__tracef(r, "conf at %u: %u members, %u voters", (unsigned long long)last,
                 (unsigned long long)c.n, (unsigned long long)raft_conf_voters(&c));
    if (r->role == RAFT_LEADER)
        raft__progress_rebuild(r);
}

void raft__progress_rebuild(struct raft *r)
{
    struct raft__progress old[RAFT_MAX_MEMBERS];
    uint32_t n_old = r->n_pr;
    memcpy(old, r->pr, n_old * sizeof old[0]);
    r->n_pr = 0;
    for (uint32_t k = 0; k < r->conf.n; k++) {
        const struct raft_member *mb = &r->conf.m[k];
        if (mb->id == r->cfg.id)
            continue;
        struct raft__progress *pr = &r->pr[r->n_pr++];
        uint32_t j = 0;
        while (j < n_old && old[j].id != mb->id)
            j++;
        if (j < n_old) {
            *pr = old[j];
        } else {
            memset(pr, 0, sizeof *pr);
            pr->id = mb->id;
            pr->state = RAFT__PROBE;
            pr->next = raft__log_last(&r->log) + 1;
            pr->active = true; /* one CheckQuorum round of grace */
        }
        pr->voter = mb->voter;
    }
}

/* Thesis 4.2.2: a leader that removed itself leads until the removal commits,
 * then hands over instead of leaving the cluster to wait an election timeout:
 * proposals stop (a transfer is in progress), the most caught-up voter is brought
 * fully up to date and told to campaign (thesis 3.10). If the transfer times
 * out, the leader steps down anyway (tick_leader). */
void raft__check_self_removed(struct raft *r)
{
    if (r->role != RAFT_LEADER || raft__is_voter(r, r->cfg.id) || r->commit < r->conf_index ||
        r->transferee != RAFT_NONE)
        return;
    struct raft__progress *best = NULL;
    for (uint32_t k = 0; k < r->n_pr; k++)
        if (r->pr[k].voter && (!best || r->pr[k].match > best->match))
            best = &r->pr[k];
    if (!best) {
        raft__become_follower(r, r->term, RAFT_NONE);
        return;
    }
    raft__tracef(r, "removal committed at %u -> hand over to %u", (unsigned long long)r->conf_index,
                 (unsigned long long)best->id);
    r->transferee = best->id;
    r->transfer_elapsed = 0;
    if (best->match == raft__log_last(&r->log))
        raft__transfer_check(r, best);
    else
        raft__send_append(r, best);
}

int raft_change(struct raft *r, enum raft_change op, raft_id id, const char *addr,
                raft_index *index)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (r->transferee != RAFT_NONE || r->conf_index > r->commit || r->commit < r->term_start)
        return RAFT_EBUSY;
    struct raft_conf c = r->conf;
    struct raft_member *mb = (struct raft_member *)raft_conf_find(&c, id);
    switch (op) {
    case RAFT_ADD_LEARNER:
        if (mb || c.n == RAFT_MAX_MEMBERS || id == RAFT_NONE)
            return RAFT_EINVAL;
        mb = &c.m[c.n++];
        memset(mb, 0, sizeof *mb);
        mb->id = id;
        if (addr)
            strncpy(mb->addr, addr, RAFT_ADDR_MAX - 1);
        break;
    case RAFT_PROMOTE: {
        if (!mb)
            return RAFT_ENOTFOUND;
        if (mb->voter)
            return RAFT_EINVAL;
        struct raft__progress *pr = raft__progress(r, id);
        if (!pr || pr->match + RAFT__CATCHUP_SLACK < r->commit)
            return RAFT_ENOTCAUGHTUP;
        mb->voter = true;
        break;
    }
    case RAFT_REMOVE:
        if (!mb)
            return RAFT_ENOTFOUND;
        if (mb->voter && raft_conf_voters(&c) == 1)
            return RAFT_EINVAL;
        *mb = c.m[--c.n];
        break;
    default:
        return RAFT_EINVAL;
    }
    uint8_t buf[8 + RAFT_MAX_MEMBERS * (9 + RAFT_ADDR_MAX)];
    size_t len = raft_conf_encode(&c, buf, sizeof buf);
    int rv = raft__append_local(r, RAFT_ENTRY_CONF, buf, (uint32_t)len);
    if (rv == RAFT_OK && index)
        *index = raft__log_last(&r->log);
    return rv;
}

/* ===== Leadership transfer (thesis 3.10) ===== */

int raft_transfer(struct raft *r, raft_id target)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (target == r->cfg.id || !raft__is_voter(r, target))
        return RAFT_EINVAL;
    if (r->transferee != RAFT_NONE)
        return RAFT_EBUSY;
    r->transferee = target;
    r->transfer_elapsed = 0;
    raft__tracef(r, "transfer to %u -> catch it up, then timeout-now", (unsigned long long)target);
    struct raft__progress *pr = raft__progress(r, target);
    if (pr->match == raft__log_last(&r->log))
        raft__transfer_check(r, pr);
    else
        raft__send_append(r, pr);
    return RAFT_OK;
}

void raft__transfer_check(struct raft *r, struct raft__progress *pr)
{
    if (r->transferee != pr->id || pr->match != raft__log_last(&r->log))
        return;
    struct raft_msg m = {.type = RAFT_MSG_TIMEOUT_NOW, .to = pr->id};
    raft__send(r, &m);
}

void raft__recv_timeout_now(struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER || !raft__is_voter(r, r->cfg.id))
        return;
    if (r->apply_held) { /* restoring its state: the transfer times out instead */
        raft__tracef(r, "timeout-now from %u ignored: applying is held",
                     (unsigned long long)m->from);
        return;
    }
    raft__tracef(r, "timeout-now from %u -> campaign", (unsigned long long)m->from);
    raft__start_election(r, false, true);
}
