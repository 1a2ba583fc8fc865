/* net.c: the simulated network between the cores.
 *
 * A sent message is deep-copied (entries, their data, the conf of a snapshot chunk)
 * because everything the core hands out dies at raft_advance(). It then meets, in
 * order: the partition matrix (directional, so asymmetric
 * partitions and bridge nodes are just patterns of blocked pairs), random drop,
 * random duplication, the scenario filter (on the copy, which it may trim) and a random delay,
 * which is also what reorders messages. Snapshot chunks arrive here with their bytes, which the
 * replica read from the sender's storage.
 */
#include "sim/sim.h"

#include <stdlib.h>
#include <string.h>

struct raft_msg sim_msg_copy(const struct raft_msg *m)
{
    struct raft_msg c = *m;
    if (m->n_entries) {
        c.entries = calloc(m->n_entries, sizeof *c.entries);
        if (!c.entries)
            abort();
        for (uint32_t i = 0; i < m->n_entries; i++) {
            c.entries[i] = m->entries[i];
            if (m->entries[i].len) {
                c.entries[i].data = malloc(m->entries[i].len);
                if (!c.entries[i].data)
                    abort();
                memcpy(c.entries[i].data, m->entries[i].data, m->entries[i].len);
            }
        }
    } else {
        c.entries = NULL;
    }
    if (m->conf) {
        struct raft_conf *conf = malloc(sizeof *conf);
        if (!conf)
            abort();
        *conf = *m->conf;
        c.conf = conf;
    }
    if (m->data && m->len) {
        uint8_t *d = malloc(m->len);
        if (!d)
            abort();
        memcpy(d, m->data, m->len);
        c.data = d;
    } else {
        c.data = NULL;
    }
    return c;
}

void sim_msg_free(struct raft_msg *m)
{
    for (uint32_t i = 0; i < m->n_entries && m->entries; i++)
        free(m->entries[i].data);
    free(m->entries);
    free((void *)m->conf);
    free((void *)m->data);
    memset(m, 0, sizeof *m);
}

/* extra_ms: added to the random delay (a retransmitted copy). */
static void enqueue(struct sim_world *w, const struct raft_msg *m, uint64_t extra_ms)
{
    struct raft_msg *c = malloc(sizeof *c);
    if (!c)
        abort();
    *c = sim_msg_copy(m);
    if (w->filter) {
        uint32_t before = c->n_entries;
        bool drop = w->filter(w->filter_arg, c);
        for (uint32_t i = c->n_entries; i < before; i++)
            free(c->entries[i].data);
        if (drop) {
            sim_msg_free(c);
            free(c);
            return;
        }
    }
    uint64_t delay = 1 + sim_range(&w->prng, w->max_delay_ms) + extra_ms;
    /* A lost segment's retransmission: the message arrives long after later ones. */
    if (w->slow_pm && sim_chance(&w->prng, w->slow_pm))
        delay += SIM_SLOW_MIN_MS + sim_range(&w->prng, SIM_SLOW_SPAN_MS);
    struct sim_event ev = {
        .time_ms = w->now_ms + delay, .kind = SIM_EV_MSG, .node = m->to, .msg = c};
    sim_heap_push(w, &ev);
}

static void send_part(struct sim_world *w, const struct raft_msg *m)
{
    if (w->blocked[m->from][m->to] || sim_chance(&w->prng, w->drop_pm))
        return;
    struct raft_msg tmp = *m;
    enqueue(w, &tmp, 0);
    if (sim_chance(&w->prng, w->dup_pm)) {
        /* Often the duplicate is a retransmission that comes late: an old append
         * can then arrive behind a snapshot the leader sent after it. */
        uint64_t late =
            sim_chance(&w->prng, 500) ? SIM_SLOW_MIN_MS + sim_range(&w->prng, SIM_SLOW_SPAN_MS) : 0;
        enqueue(w, &tmp, late);
    }
}

/* An APPEND whose first entry has another term in the receiver's log overwrites a
 * suffix of it (a new leader repairing a follower). */
static bool overwrites(struct sim_world *w, const struct raft_msg *m)
{
    if (m->type != RAFT_MSG_APPEND || !m->n_entries || !w->node[m->to].up)
        return false;
    const struct sim_entry *e = sim_log_at(&w->node[m->to].cur.log, m->entries[0].index);
    return e && e->term != m->entries[0].term;
}

/* An APPEND of several entries may leave as two: the first k entries, then the
 * rest with entry k as its previous entry. A leader may always send them so; each
 * part is then dropped, delayed and acknowledged on its own, which is how a new
 * leader's no-op gets separated from the older entries it follows. */
void sim_net_send(struct sim_world *w, struct sim_node *from, const struct raft_msg *m)
{
    if (m->to >= SIM_MAX_NODES || m->from != from->id) {
        sim_fail(w, "message-address", "n%u sends %s from %u to %u", (unsigned)from->id,
                 raft_msg_name(m->type), (unsigned)m->from, (unsigned)m->to);
        return;
    }
    /* The receiver stops while entries are on their way: the leader moves on (commits,
     * compacts, switches it to a snapshot) and it later reads both in one iteration. */
    if (m->type == RAFT_MSG_APPEND && m->n_entries && sim_chance(&w->prng, w->stall_pm))
        sim_pause(w, m->to, 20 + sim_range(&w->prng, 400));
    /* The same when the append replaces part of the receiver's log, or when the
     * last chunk of a snapshot is on its way: on resume the follower steps the
     * replacing entries and the snapshot (or the snapshot and an older append
     * behind it) in one Ready, which must leave a log that recovers intact. A
     * Ready it had not run yet when it stopped waits for the resume as well. */
    if (overwrites(w, m) && sim_chance(&w->prng, w->overwrite_stall_pm)) {
        sim_pause(w, m->to, 20 + sim_range(&w->prng, 400));
        if (sim_paused(w, &w->node[m->to]))
            w->node[m->to].ready_due = false;
    }
    if (m->type == RAFT_MSG_SNAPSHOT && m->done && sim_chance(&w->prng, w->snap_stall_pm))
        sim_pause(w, m->to, 20 + sim_range(&w->prng, 400));
    if (m->type != RAFT_MSG_APPEND || m->n_entries < 2 || !sim_chance(&w->prng, w->split_pm)) {
        send_part(w, m);
        return;
    }
    uint32_t k = 1 + (uint32_t)sim_range(&w->prng, m->n_entries - 1);
    struct raft_msg head = *m;
    head.n_entries = k;
    struct raft_msg tail = *m;
    tail.index = m->entries[k - 1].index;
    tail.log_term = m->entries[k - 1].term;
    tail.entries = m->entries + k;
    tail.n_entries = m->n_entries - k;
    send_part(w, &head);
    send_part(w, &tail);
}

void sim_net_deliver(struct sim_world *w, struct raft_msg *m)
{
    struct sim_node *n = &w->node[m->to];
    if (!n->up)
        return;
    if (m->type == RAFT_MSG_SNAPSHOT) {
        n->seen_snap_index = m->snap_index;
        n->seen_snap_size = m->snap_size;
    }
    if (m->type == RAFT_MSG_SNAPSHOT || m->type == RAFT_MSG_SNAPSHOT_RESP)
        sim_trace(
            w, "sim: deliver %s n%u->n%u term %llu snap %llu/%llu size %llu off %llu len %u%s%s",
            raft_msg_name(m->type), (unsigned)m->from, (unsigned)m->to, (unsigned long long)m->term,
            (unsigned long long)m->snap_index, (unsigned long long)m->snap_term,
            (unsigned long long)m->snap_size, (unsigned long long)m->offset, (unsigned)m->len,
            m->done ? " done" : "", m->reject ? " reject" : "");
    else if (m->type != RAFT_MSG_HEARTBEAT && m->type != RAFT_MSG_HEARTBEAT_RESP)
        sim_trace(w, "sim: deliver %s n%u->n%u term %llu idx %llu/%llu n=%u commit %llu%s%s",
                  raft_msg_name(m->type), (unsigned)m->from, (unsigned)m->to,
                  (unsigned long long)m->term, (unsigned long long)m->index,
                  (unsigned long long)m->log_term, (unsigned)m->n_entries,
                  (unsigned long long)m->commit, m->reject ? " reject" : "",
                  m->granted ? " granted" : "");
    sim_rules_delivered(w, m);
    int rc = raft_step(n->rep.raft, m);
    if (rc != RAFT_OK)
        sim_trace(w, "sim: n%u step %s -> %s", (unsigned)m->to, raft_msg_name(m->type),
                  raft_strerror(rc));
    if (w->batch_ready || n->paused_until == w->now_ms)
        n->ready_due = true;
    else
        sim_shell_process(w, n);
}

void sim_net_heal(struct sim_world *w)
{
    memset(w->blocked, 0, sizeof w->blocked);
}

void sim_net_isolate(struct sim_world *w, raft_id id)
{
    for (raft_id j = 0; j < SIM_MAX_NODES; j++) {
        if (j != id)
            sim_net_block(w, id, j, true);
    }
}

void sim_net_block(struct sim_world *w, raft_id a, raft_id b, bool both)
{
    w->blocked[a][b] = true;
    if (both)
        w->blocked[b][a] = true;
}
