/* world.c: the simulation clock, event heap, trace ring and stepping.
 *
 * Time advances one simulated millisecond per sim_step_ms(): due message
 * deliveries fire in (time, sequence) order, then every up node whose tick phase
 * matches ticks. Ordering by a sequence number as tie-break keeps the run a pure
 * function of the seed. Each world keeps its nodes' data directories under one
 * root, a name for simfs only: no real directory is made.
 */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_opts_default(struct sim_opts *o, uint32_t n_nodes, uint64_t seed)
{
    memset(o, 0, sizeof *o);
    o->n_nodes = n_nodes;
    o->seed = seed;
    o->pre_vote = true;
    o->check_quorum = true;
    o->election_ticks = 10;
    o->heartbeat_ticks = 2;
    o->max_append_bytes = 64;
    o->snapshot_chunk_bytes = 48;
    o->snapshot_trailing = 5;
}

/* One root per world: two worlds alive at once never share a simfs directory. */
static void make_root(struct sim_world *w)
{
    static uint64_t worlds;
    snprintf(w->root, sizeof w->root, "/sim/w%llu", (unsigned long long)++worlds);
}

void sim_world_init(struct sim_world *w, const struct sim_opts *o)
{
    memset(w, 0, sizeof *w);
    w->prng = o->seed * 0x2545f4914f6cdd1dULL + 1;
    w->n_initial = w->n_nodes = o->n_nodes;
    w->verbose = o->verbose;
    w->quiet = o->quiet && !o->verbose;
    w->trace_core = true;
    w->max_delay_ms = 8;
    w->snapshot_entries = o->snapshot_entries;
    w->snapshot_trailing = o->snapshot_trailing;
    w->segment_bytes = o->segment_bytes;
    raft_config_defaults(&w->cfg_template, 0, 0);
    w->cfg_template.election_ticks = o->election_ticks;
    w->cfg_template.heartbeat_ticks = o->heartbeat_ticks;
    w->cfg_template.pre_vote = o->pre_vote;
    w->cfg_template.check_quorum = o->check_quorum;
    w->cfg_template.max_append_bytes = o->max_append_bytes;
    w->cfg_template.snapshot_chunk_bytes = o->snapshot_chunk_bytes;
    w->initial.n = o->n_nodes;
    for (uint32_t i = 0; i < o->n_nodes; i++) {
        w->initial.m[i].id = i;
        w->initial.m[i].voter = true;
        snprintf(w->initial.m[i].addr, RAFT_ADDR_MAX, "n%u", (unsigned)i);
    }
    w->conf = w->initial;
    for (uint32_t i = 0; i < SIM_MAX_NODES; i++) {
        w->node[i].w = w;
        w->node[i].id = i;
        w->node[i].tick_phase = (uint32_t)sim_range(&w->prng, SIM_TICK_MS);
    }
    sim_check_init(w);
    make_root(w);
    for (uint32_t i = 0; i < o->n_nodes && !w->failed; i++)
        sim_node_start(w, i);
}

void sim_world_free(struct sim_world *w)
{
    for (uint32_t i = 0; i < SIM_MAX_NODES; i++) {
        struct sim_node *n = &w->node[i];
        if (n->up) {
            n->fs.crashed = true;
            replica_close(&n->rep);
            n->up = false;
        }
        if (n->fs_ready)
            simfs_destroy(&n->fs);
        sim_disk_free(&n->syn);
        sim_disk_free(&n->cur);
    }
    for (size_t i = 0; i < w->n_heap; i++) {
        if (w->heap[i].msg) {
            sim_msg_free(w->heap[i].msg);
            free(w->heap[i].msg);
        }
    }
    free(w->heap);
    free(w->captured);
    sim_check_free(w);
}

void sim_trace(struct sim_world *w, const char *fmt, ...)
{
    if (w->quiet && !w->capture)
        return;
    char *line = w->trace[w->n_trace % SIM_TRACE_LINES];
    int off = snprintf(line, SIM_TRACE_WIDTH, "t=%llu ", (unsigned long long)w->now_ms);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + off, SIM_TRACE_WIDTH - (size_t)off, fmt, ap);
    va_end(ap);
    w->n_trace++;
    if (w->capture) {
        size_t len = strlen(line);
        if (w->captured_len + len + 2 > w->captured_cap) {
            w->captured_cap = (w->captured_len + len + 2) * 2;
            w->captured = realloc(w->captured, w->captured_cap);
            if (!w->captured)
                abort();
        }
        memcpy(w->captured + w->captured_len, line, len);
        w->captured_len += len;
        w->captured[w->captured_len++] = '\n';
        w->captured[w->captured_len] = '\0';
    }
    if (w->verbose)
        printf("  %s\n", line);
}

void sim_trace_dump(const struct sim_world *w, int last_n)
{
    uint64_t from = w->n_trace > (uint64_t)last_n ? w->n_trace - (uint64_t)last_n : 0;
    if (w->n_trace - from > SIM_TRACE_LINES)
        from = w->n_trace - SIM_TRACE_LINES;
    for (uint64_t i = from; i < w->n_trace; i++)
        printf("    | %s\n", w->trace[i % SIM_TRACE_LINES]);
}

void sim_fail(struct sim_world *w, const char *inv, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = true;
    snprintf(w->fail_inv, sizeof w->fail_inv, "%s", inv);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->fail_msg, sizeof w->fail_msg, fmt, ap);
    va_end(ap);
    sim_trace(w, "VIOLATION %s: %s", w->fail_inv, w->fail_msg);
}

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
    return a->time_ms < b->time_ms || (a->time_ms == b->time_ms && a->seq < b->seq);
}

void sim_heap_push(struct sim_world *w, struct sim_event *ev)
{
    if (w->n_heap == w->cap_heap) {
        w->cap_heap = w->cap_heap ? w->cap_heap * 2 : 256;
        w->heap = realloc(w->heap, w->cap_heap * sizeof *w->heap);
        if (!w->heap)
            abort();
    }
    ev->seq = w->ev_seq++;
    size_t i = w->n_heap++;
    while (i > 0 && ev_before(ev, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = *ev;
}

bool sim_heap_pop_due(struct sim_world *w, struct sim_event *out)
{
    if (w->n_heap == 0 || w->heap[0].time_ms > w->now_ms)
        return false;
    *out = w->heap[0];
    struct sim_event last = w->heap[--w->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->n_heap)
            break;
        if (c + 1 < w->n_heap && ev_before(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!ev_before(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->n_heap > 0)
        w->heap[i] = last;
    return true;
}

/* Flow control bounds what a correct cluster has in flight (max_inflight appends per
 * follower, one probe or snapshot chunk, heartbeats, votes): a few thousand
 * messages at most, even with duplication and stale leaders. Far more means replies
 * breed new requests without end. */
#define SIM_MAX_IN_FLIGHT 100000

void sim_step_ms(struct sim_world *w)
{
    w->now_ms++;
    if (w->n_heap > SIM_MAX_IN_FLIGHT) {
        sim_fail(w, "bounded-traffic", "%zu messages in flight", w->n_heap);
        return;
    }
    struct sim_event ev;
    while (!w->failed && sim_heap_pop_due(w, &ev)) {
        struct sim_node *to = &w->node[ev.node];
        if (to->up && to->paused_until > w->now_ms) {
            /* A stopped process reads nothing: its sockets fill until it resumes and
             * takes everything in one loop iteration. */
            ev.time_ms = to->paused_until;
            sim_heap_push(w, &ev);
            continue;
        }
        sim_net_deliver(w, ev.msg);
        sim_msg_free(ev.msg);
        free(ev.msg);
    }
    for (uint32_t i = 0; i < w->n_nodes && !w->failed; i++) {
        struct sim_node *n = &w->node[i];
        bool due = n->ready_due;
        n->ready_due = false;
        if (due && n->up)
            sim_shell_process(w, n);
    }
    sim_snapshot_jobs_step(w);
    sim_sync_step(w);
    sim_restore_step(w);
    for (uint32_t i = 0; i < w->n_nodes && !w->failed; i++) {
        struct sim_node *n = &w->node[i];
        if (!n->up || n->paused_until > w->now_ms || (w->now_ms + n->tick_phase) % SIM_TICK_MS)
            continue;
        raft_tick(n->rep.raft);
        replica_lease_tick(&n->rep); /* the leader's expiries, by simulated time */
        sim_shell_process(w, n);
    }
    if (!w->failed)
        sim_rules_step(w);
}

bool sim_paused(const struct sim_world *w, const struct sim_node *n)
{
    return n->up && n->paused_until > w->now_ms;
}

void sim_pause(struct sim_world *w, raft_id id, uint64_t ms)
{
    struct sim_node *n = &w->node[id];
    if (!n->up || sim_paused(w, n))
        return;
    n->paused_until = w->now_ms + ms;
    n->resumed_ms = n->paused_until;
    sim_trace(w, "sim: n%u stopped for %llu ms", (unsigned)id, (unsigned long long)ms);
}

void sim_run_ms(struct sim_world *w, uint64_t ms)
{
    for (uint64_t i = 0; i < ms && !w->failed; i++)
        sim_step_ms(w);
}

raft_id sim_leader(struct sim_world *w)
{
    raft_id best = RAFT_NONE;
    raft_term best_term = 0;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        struct sim_node *n = &w->node[i];
        if (!n->up || raft_role(n->rep.raft) != RAFT_LEADER)
            continue;
        if (best == RAFT_NONE || raft_term_now(n->rep.raft) > best_term) {
            best = i;
            best_term = raft_term_now(n->rep.raft);
        }
    }
    return best;
}

bool sim_is_member(const struct sim_world *w, raft_id id)
{
    return raft_conf_find(&w->conf, id) != NULL;
}
