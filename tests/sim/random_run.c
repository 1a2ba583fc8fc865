/* random_run.c: one seeded random run of the simulated cluster.
 *
 * A run alternates fault phases (drops, duplicates, partitions of every shape,
 * crashes between loop iterations and disk crashes inside them) with healed phases (full
 * connectivity, every node up). Client traffic, reads, transfers, membership changes and snapshots
 * happen throughout. After each heal a leader must appear within SIM_LIVENESS_TIMEOUTS election
 * timeouts; after the last step the cluster is healed for good, proposals stop, and every member
 * must converge on the same applied index and state. The seed decides everything, so a failing seed
 * replays exactly under --seed.
 */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_LIVENESS_TIMEOUTS 50

enum phase { PHASE_FAULT, PHASE_HEAL };

bool sim_skip_membership;

struct run {
    struct sim_world *w;
    enum phase phase;
    uint64_t phase_end_ms;
    uint64_t heal_start_ms;
    uint64_t liveness_ms;
    bool leader_seen;
    bool final;          /* the closing heal: no more faults */
    uint32_t propose_pm; /* client writes per simulated ms, per mille, this phase */
    raft_term lead_term; /* the newest leader's term, and when it was first seen */
    uint64_t lead_since_ms;
};

static raft_id random_node(struct sim_world *w, bool up)
{
    raft_id ids[SIM_MAX_NODES];
    uint32_t k = 0;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        struct sim_node *n = &w->node[i];
        if (n->started && !n->removed && n->up == up && !sim_paused(w, n))
            ids[k++] = i;
    }
    return k ? ids[sim_range(&w->prng, k)] : RAFT_NONE;
}

static void split_network(struct sim_world *w, bool bridge, bool asym)
{
    bool side[SIM_MAX_NODES];
    for (uint32_t i = 0; i < w->n_nodes; i++)
        side[i] = sim_chance(&w->prng, 500);
    raft_id b = bridge ? (raft_id)sim_range(&w->prng, w->n_nodes) : RAFT_NONE;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        for (uint32_t j = 0; j < w->n_nodes; j++) {
            /* One-way: only messages from side A to side B are lost. */
            bool cut = asym ? (side[i] && !side[j]) : side[i] != side[j];
            if (cut && i != b && j != b)
                sim_net_block(w, i, j, false);
        }
    }
    sim_trace(w, "sim: partition%s%s", bridge ? " with bridge" : "", asym ? " (one-way)" : "");
}

/* Client load changes from phase to phase: quiet phases leave a leader's log tail
 * still, so the entries in flight and the snapshot index meet; busy phases pile up
 * long uncommitted suffixes on stale leaders. */
static uint32_t pick_load(struct sim_world *w)
{
    static const uint32_t rates[] = {0, 5, 60, 60, 150};
    return rates[sim_range(&w->prng, sizeof rates / sizeof rates[0])];
}

static void start_fault_phase(struct run *run)
{
    struct sim_world *w = run->w;
    run->phase = PHASE_FAULT;
    run->propose_pm = pick_load(w);
    run->phase_end_ms = w->now_ms + 300 + sim_range(&w->prng, 1200);
    w->drop_pm = (uint32_t)sim_range(&w->prng, 301);
    w->dup_pm = (uint32_t)sim_range(&w->prng, 60);
    w->split_pm = sim_chance(&w->prng, 500) ? (uint32_t)sim_range(&w->prng, 601) : 0;
    w->stall_pm = sim_chance(&w->prng, 500) ? (uint32_t)sim_range(&w->prng, 21) : 0;
    w->max_delay_ms = 2 + (uint32_t)sim_range(&w->prng, 15);
    w->slow_pm = sim_chance(&w->prng, 500) ? (uint32_t)sim_range(&w->prng, 101) : 0;
    switch (sim_range(&w->prng, 6)) {
    case 0:
        break;
    case 1:
        split_network(w, false, false);
        break;
    case 2:
        split_network(w, false, true);
        break;
    case 3:
        split_network(w, true, false);
        break;
    case 4: {
        raft_id l = sim_leader(w);
        if (l != RAFT_NONE) {
            sim_net_isolate(w, l);
            sim_trace(w, "sim: isolate leader n%u", (unsigned)l);
        }
        break;
    }
    default:
        for (int k = 0; k < 3; k++)
            sim_net_block(w, (raft_id)sim_range(&w->prng, w->n_nodes),
                          (raft_id)sim_range(&w->prng, w->n_nodes), false);
        break;
    }
    sim_trace(w, "sim: fault phase until %llu: drop %u/1000 dup %u/1000 delay <= %u",
              (unsigned long long)run->phase_end_ms, (unsigned)w->drop_pm, (unsigned)w->dup_pm,
              (unsigned)w->max_delay_ms);
}

static void start_heal_phase(struct run *run)
{
    struct sim_world *w = run->w;
    run->phase = PHASE_HEAL;
    run->propose_pm = pick_load(w);
    run->heal_start_ms = w->now_ms;
    run->leader_seen = false;
    run->phase_end_ms = w->now_ms + 200 + sim_range(&w->prng, 600);
    sim_net_heal(w);
    w->drop_pm = 0;
    w->dup_pm = 0;
    w->split_pm = 0;
    w->stall_pm = 0;
    w->slow_pm = 0;
    w->max_delay_ms = 4;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        w->node[i].fs.crash_in = 0; /* an armed crash that has not struck is called off */
        if (w->node[i].started && !w->node[i].up && !w->node[i].removed)
            sim_node_start(w, i);
    }
    sim_trace(w, "sim: heal");
}

static void membership_action(struct sim_world *w, raft_id lead)
{
    const struct raft_conf *c = raft_current_conf(w->node[lead].rep.raft);
    uint32_t voters = raft_conf_voters(c);
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->m[i].voter && voters < 7 && sim_chance(&w->prng, 700)) {
            sim_change(w, lead, RAFT_PROMOTE, c->m[i].id);
            return;
        }
    }
    raft_id spare = RAFT_NONE;
    for (raft_id i = w->n_initial; i < SIM_MAX_NODES && spare == RAFT_NONE; i++) {
        if (!w->node[i].started)
            spare = i;
    }
    if (spare != RAFT_NONE && c->n < RAFT_MAX_MEMBERS && sim_chance(&w->prng, 500)) {
        sim_change(w, lead, RAFT_ADD_LEARNER, spare);
        return;
    }
    const struct raft_member *m = &c->m[sim_range(&w->prng, c->n)];
    if (!m->voter || voters > 3)
        sim_change(w, lead, RAFT_REMOVE, m->id);
}

/* Any node that believes it leads, stale leaders included: they must refuse to
 * answer reads they cannot confirm and never commit what they accept. */
static raft_id random_leader(struct sim_world *w)
{
    raft_id ids[SIM_MAX_NODES];
    uint32_t k = 0;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        if (w->node[i].up && !sim_paused(w, &w->node[i]) &&
            raft_role(w->node[i].rep.raft) == RAFT_LEADER)
            ids[k++] = i;
    }
    return k ? ids[sim_range(&w->prng, k)] : RAFT_NONE;
}

static void client_actions(struct run *run)
{
    struct sim_world *w = run->w;
    raft_id lead = random_leader(w);
    if (lead != RAFT_NONE) {
        if (sim_chance(&w->prng, run->propose_pm)) {
            if (w->cmd_counter % 4 == 3) /* every fourth command: no extra draw */
                sim_propose_txn(w, lead);
            else if (w->cmd_counter % 8 == 1) /* every eighth: a lease command */
                sim_propose_lease(w, lead);
            else
                sim_propose(w, lead, NULL);
        }
        if (sim_chance(&w->prng, 10) && w->node[lead].up)
            sim_read(w, lead);
        if (sim_chance(&w->prng, 1) && w->node[lead].up) {
            raft_id to = (raft_id)sim_range(&w->prng, w->n_nodes);
            int rc = raft_transfer(w->node[lead].rep.raft, to);
            sim_trace(w, "sim: n%u transfer to n%u -> %s", (unsigned)lead, (unsigned)to,
                      raft_strerror(rc));
            sim_shell_process(w, &w->node[lead]);
        }
        if (sim_chance(&w->prng, 2) && w->node[lead].up && !sim_skip_membership) {
            membership_action(w, lead);
            /* Often a second change right behind it: the core must answer busy. */
            if (sim_chance(&w->prng, 300) && w->node[lead].up)
                membership_action(w, lead);
        }
    }
    raft_id any = random_node(w, true);
    if (any != RAFT_NONE && sim_chance(&w->prng, 3) &&
        raft_role(w->node[any].rep.raft) != RAFT_LEADER &&
        sim_propose(w, any, NULL) != RAFT_ENOTLEADER)
        sim_fail(w, "propose-on-follower", "n%u accepted a proposal as a non-leader",
                 (unsigned)any);
    if (any != RAFT_NONE && sim_chance(&w->prng, 3))
        sim_shell_take_snapshot(w, &w->node[any], sim_range(&w->prng, 21));
}

/* A crash inside a node's Ready loop: the k-th disk call from now is its last,
 * so power can fail between any two writes and syncs of the shipped loop. */
static void arm_disk_crash(struct sim_world *w)
{
    raft_id id = random_node(w, true);
    if (id == RAFT_NONE || w->node[id].fs.crash_in > 0)
        return;
    uint64_t k = 1 + sim_range(&w->prng, 12);
    bool after = sim_chance(&w->prng, 500);
    simfs_arm(&w->node[id].fs, k, after);
    sim_trace(w, "sim: n%u disk crash armed at call +%llu (%s it)", (unsigned)id,
              (unsigned long long)k, after ? "after" : "before");
}

static void fault_actions(struct run *run)
{
    struct sim_world *w = run->w;

    if (sim_chance(&w->prng, 1)) {
        raft_id id = random_node(w, true);
        if (id != RAFT_NONE)
            sim_node_crash(w, id);
    }
    if (sim_chance(&w->prng, 2))
        arm_disk_crash(w);
    /* Short-lived leaderships are where old-term entries get re-replicated by a new
     * leader before its own entries spread (Figure 8): crash fresh leaders often. */
    raft_id lead = sim_leader(w);
    if (lead != RAFT_NONE && sim_chance(&w->prng, 1))
        sim_node_crash(w, lead);
    /* A stopped process (SIGSTOP, a long GC or swap pause): the cluster moves on
     * without it, a leader may compact past it, and on resume it steps every
     * message that queued up (old appends and new snapshot chunks) in one Ready. */
    if (sim_chance(&w->prng, 1)) {
        raft_id id = random_node(w, true);
        if (id != RAFT_NONE)
            sim_pause(w, id, 20 + sim_range(&w->prng, 800));
    }
    if (sim_chance(&w->prng, 4)) {
        raft_id id = random_node(w, false);
        if (id != RAFT_NONE)
            sim_node_start(w, id);
    }
}

/* A new leader probes every follower and sends each the entries it lacks while
 * its own commit index and snapshots move on: a follower that stops in that window
 * wakes up to an old append and a newer snapshot in one read. */
static void pause_near_leader_change(struct run *run)
{
    struct sim_world *w = run->w;
    raft_id lead = sim_leader(w);
    if (lead == RAFT_NONE)
        return;
    raft_term t = raft_term_now(w->node[lead].rep.raft);
    if (t != run->lead_term) {
        run->lead_term = t;
        run->lead_since_ms = w->now_ms;
    }
    if (w->now_ms - run->lead_since_ms > 60 || !sim_chance(&w->prng, 20))
        return;
    raft_id id = random_node(w, true);
    if (id != RAFT_NONE && id != lead)
        sim_pause(w, id, 20 + sim_range(&w->prng, 400));
    if (sim_chance(&w->prng, 800))
        sim_shell_take_snapshot(w, &w->node[lead], 0);
}

/* The crashes scheduled after installs (node_ops.c); in a healed phase the node
 * comes straight back. */
static void scheduled_crashes(struct run *run)
{
    struct sim_world *w = run->w;
    for (uint32_t i = 0; i < w->n_nodes && !w->failed; i++) {
        struct sim_node *n = &w->node[i];
        if (!n->crash_at_ms || w->now_ms < n->crash_at_ms)
            continue;
        n->crash_at_ms = 0;
        if (run->final || !n->up)
            continue;
        sim_trace(w, "sim: n%u crashes soon after its install", (unsigned)i);
        sim_node_crash(w, i);
        if (run->phase == PHASE_HEAL && !w->failed)
            sim_node_start(w, i);
    }
}

static void phase_step(struct run *run)
{
    struct sim_world *w = run->w;
    scheduled_crashes(run);
    if (!run->final)
        pause_near_leader_change(run);
    if (run->phase == PHASE_FAULT) {
        fault_actions(run);
        if (w->now_ms >= run->phase_end_ms)
            start_heal_phase(run);
        return;
    }
    if (!run->leader_seen && sim_leader(w) != RAFT_NONE)
        run->leader_seen = true;
    if (!run->leader_seen && w->now_ms - run->heal_start_ms > run->liveness_ms)
        sim_fail(w, "liveness", "no leader %llu ms after the network healed",
                 (unsigned long long)(w->now_ms - run->heal_start_ms));
    if (run->leader_seen && w->now_ms >= run->phase_end_ms && !run->final)
        start_fault_phase(run);
}

/* The end of a run: heal for good, stop clients, wait for convergence. */
static void final_convergence(struct run *run)
{
    struct sim_world *w = run->w;
    run->final = true;
    start_heal_phase(run);
    char why[160] = "";
    uint64_t deadline = w->now_ms + 2 * run->liveness_ms;
    while (!w->failed && w->now_ms < deadline) {
        sim_step_ms(w);
        phase_step(run);
        if (w->now_ms % 10 == 0 && sim_converged(w, why, sizeof why))
            return;
    }
    if (!w->failed)
        sim_fail(w, "convergence", "not converged %llu ms after the final heal: %s",
                 (unsigned long long)(2 * run->liveness_ms), why);
}

/* One run: true when it passes; unless quiet (no trace), a failure is reported. */
static bool run_seed(uint64_t seed, uint64_t steps, bool verbose, bool quiet)
{
    static const uint32_t sizes[] = {3, 5, 7};
    struct sim_world *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    uint64_t pick = seed;
    struct sim_opts o;
    sim_opts_default(&o, sizes[sim_range(&pick, 3)], seed);
    /* Tiny batches (entries spread over many appends) or the production size. */
    o.max_append_bytes = sim_range(&pick, 2) ? 8 + (uint32_t)sim_range(&pick, 120) : 1u << 20;
    /* Small chunks (many round trips) or the production size (one message). */
    o.snapshot_chunk_bytes = sim_range(&pick, 2) ? 16 + (uint32_t)sim_range(&pick, 64) : 1u << 20;
    /* Mostly the production settings; a quarter of the seeds run without each so
     * that stale leaders live long enough to be tested. */
    o.pre_vote = sim_range(&pick, 4) != 0;
    o.check_quorum = sim_range(&pick, 4) != 0;
    /* Storage: automatic snapshots every few dozen entries (none for some seeds),
     * and segments small enough to roll often. */
    o.snapshot_entries = sim_range(&pick, 5) ? 16 + sim_range(&pick, 200) : 0;
    o.snapshot_trailing = sim_range(&pick, 30);
    o.segment_bytes = 1024 + sim_range(&pick, 16384);
    o.verbose = verbose;
    o.quiet = quiet;
    sim_world_init(w, &o);
    w->batch_ready = sim_range(&pick, 2) == 0;
    /* Half the seeds adopt automatic snapshots some milliseconds after writing
     * them, as vesperd's forked writer does; the others take them on the loop. */
    w->bg_snapshot_max_ms = sim_range(&pick, 2) ? 1 + (uint32_t)sim_range(&pick, 60) : 0;
    /* Half the seeds let a leader's fdatasync trail its loop by up to a few dozen
     * milliseconds, as vesperd's sync thread does; the others sync on the loop. */
    w->sync_trail_max_ms = sim_range(&pick, 2) ? 1 + (uint32_t)sim_range(&pick, 40) : 0;
    /* Half the seeds preallocate their WAL segments, as vesperd does. */
    w->preallocate = sim_range(&pick, 2) == 0;
    /* Half the seeds decode an installed snapshot beside the loop, as vesperd's
     * install thread does; the others on the loop. */
    w->restore_max_ms = sim_range(&pick, 2) ? 1 + (uint32_t)sim_range(&pick, 80) : 0;
    /* A quarter of the seeds with snapshots also have a byte threshold of 1 to 8 KiB
     * of log, low enough to shorten the interval, as large entries do in vesperd. */
    if (o.snapshot_entries && sim_range(&pick, 4) == 0)
        w->snapshot_bytes = 1024 + sim_range(&pick, 7168);
    w->crash_after_install_pm = 300;
    w->crash_after_keep_pm = 900;
    w->overwrite_stall_pm = 1000;
    w->snap_stall_pm = 500;
    struct run run = {.w = w};
    run.liveness_ms = (uint64_t)SIM_LIVENESS_TIMEOUTS * o.election_ticks * SIM_TICK_MS;
    start_heal_phase(&run);
    /* One step is one tick period of simulated time, SIM_TICK_MS milliseconds. */
    for (uint64_t s = 0; s < steps * SIM_TICK_MS && !w->failed; s++) {
        client_actions(&run);
        if (!w->failed)
            phase_step(&run);
        if (!w->failed)
            sim_step_ms(w);
    }
    if (!w->failed)
        final_convergence(&run);
    bool ok = !w->failed;
    if (!ok && !quiet) {
        printf("seed %llu FAILED (%u nodes%s%s): %s: %s\n", (unsigned long long)seed,
               (unsigned)o.n_nodes, o.pre_vote ? ", pre-vote" : "",
               o.check_quorum ? ", check-quorum" : "", w->fail_inv, w->fail_msg);
        if (!verbose)
            sim_trace_dump(w, 100);
        printf("    replay: make test-sim SEED=%llu\n", (unsigned long long)seed);
    }
    sim_world_free(w);
    free(w);
    return ok;
}

/* Only a failure shows the trace, costly to format: seeds run quiet, a failing one again. */
bool sim_random_run(uint64_t seed, uint64_t steps, bool verbose)
{
    if (verbose)
        return run_seed(seed, steps, true, false);
    if (run_seed(seed, steps, false, true))
        return true;
    if (run_seed(seed, steps, false, false)) /* a run must depend on its seed only */
        printf("seed %llu FAILED untraced, passed traced\n", (unsigned long long)seed);
    return false;
}
