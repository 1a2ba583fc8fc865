/* snapdue.c: when storage says a snapshot is due (storage_should_snapshot), and
 * the count of WAL bytes behind that decision.
 *
 * Each node snapshots at its own points of the interval (opt.snapshot_phase), so
 * that the nodes of a cluster do not all fork and write the whole state at once.
 * The entries threshold sets the interval; where its entries would hold more than
 * snapshot_bytes, the interval shrinks to what fits at the average entry size,
 * and the phase keeps its share of it. The average comes from the bytes written
 * for the entries after bytes_base_index (storage_write counts them; a snapshot's
 * adoption and a suffix truncation move the base).
 */
#include <stdint.h>

#include "storage/internal.h"

/* The first index k * every + phase at or after from. */
static raft_index next_point(raft_index from, uint64_t every, uint64_t phase)
{
    if (from <= phase)
        return phase;
    return from + (every - (from - phase) % every) % every;
}

void st_snap_count_bytes_from(struct storage *st, raft_index index)
{
    raft_index base = st->bytes_base_index;
    if (index <= base)
        return; /* the count still covers exactly the entries after base */
    if (st->last_index <= index) {
        st->bytes_since_snap = 0;
        st->bytes_base_index = st->last_index;
        return;
    }
    /* The share of the count that lies after index. */
    st->bytes_since_snap =
        (uint64_t)((double)st->bytes_since_snap * (double)(st->last_index - index) /
                   (double)(st->last_index - base));
    st->bytes_base_index = index;
}

/* The snapshot interval, in entries, that the byte threshold leaves: the largest
 * step of the ladder every, 27/32, 23/32 and 19/32 of it, then the same below every
 * / 2, every / 4, ..., whose entries hold at most snapshot_bytes at the average
 * size of the entries written since bytes_base_index. The ladder's steps are
 * coarse on purpose: nodes whose averages differ a little (their hard-state
 * records differ) still pick the same interval, and so points that stay apart.
 * One entry larger than snapshot_bytes leaves 1: a snapshot after every entry,
 * as the threshold alone would. */
static uint64_t interval_for_bytes(const struct storage *st, uint64_t every)
{
    uint64_t limit = st->opt.snapshot_bytes;
    if (st->last_index <= st->bytes_base_index || st->bytes_since_snap < limit / 8)
        return every; /* too early to tell */
    double entries = (double)(st->last_index - st->bytes_base_index);
    double fit = entries * (double)limit / (double)st->bytes_since_snap;
    static const uint64_t step32[] = {32, 27, 23, 19};
    for (uint64_t base = every; base > 0; base /= 2)
        for (size_t k = 0; k < sizeof step32 / sizeof step32[0]; k++) {
            uint64_t n = base / 32 * step32[k] + base % 32 * step32[k] / 32;
            if (n > 0 && (double)n <= fit)
                return n;
        }
    return 1;
}

bool storage_should_snapshot(const struct storage *st)
{
    uint64_t every = st->opt.snapshot_entries;
    if (st->bytes_since_snap / 2 >= st->opt.snapshot_bytes)
        return true; /* the backstop: entries grew much larger than the average said */
    if (every == 0)
        return st->last_index > st->snap.index;
    uint64_t step = interval_for_bytes(st, every);
    uint64_t phase = st->opt.snapshot_phase % every; /* the same share of the step */
    phase = every <= UINT32_MAX ? phase * step / every
                                : (uint64_t)((double)phase / (double)every * (double)step) % step;
    raft_index due = next_point(st->snap.index + (step + 1) / 2, step, phase);
    return st->last_index >= due;
}
