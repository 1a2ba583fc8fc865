/* lincheck.h: a linearizability checker for key-value histories (Wing & Gong search with
 * Lowe's memoization, the algorithm Porcupine and Knossos use).
 *
 * The history is partitioned by key; each key is an independent register holding either
 * nothing ("absent") or a byte string. Each partition is checked by a depth-first search over
 * the invoke/complete events with a cache of (set of linearized ops, register state) pairs
 * already explored, under a step and memory budget so a pathological history ends as
 * LINCHECK_UNKNOWN instead of hanging.
 *
 * Outcomes:
 *   ok    the op took effect between invoke and complete, with the recorded result.
 *   fail  the op definitely did not take effect (rejected before proposing: not_leader,
 *         no_leader, bad_request); it is dropped before checking.
 *   info  indeterminate (timeout, connection lost): it may have taken effect at any time
 *         after invoke, or never; its complete time is infinity and its result unknown.
 *
 * HISTORY FILE FORMAT (one op a line, appended by cluster tests; build/lincheck FILE)
 *
 *   <proc> <op> <key> <value> <expected> <invoke_us> <complete_us> <outcome> <result>
 *
 *   Fields are separated by one or more spaces or tabs. Blank lines and lines whose first
 *   non-blank character is '#' are ignored. A trailing '\r' is stripped.
 *   proc         non-negative decimal client/process id (only used in explanations)
 *   op           get | put | delete | cas
 *   key, value, expected, result (when a string): percent-encoded bytes. Any byte may be
 *                written %XX (two hex digits); bytes that are space, tab, '%', '"', '#' or
 *                outside 0x21..0x7e MUST be. A field that is exactly "-" means "none /
 *                absent"; the one-byte string "-" is written %2D; the empty string is "".
 *   value        put: the value written; cas: the new value; get, delete: -
 *   expected     cas: the value expected (- = expects the key to be absent); others: -
 *   invoke_us    decimal integer timestamp (any epoch, microseconds suggested)
 *   complete_us  decimal timestamp >= invoke_us, or - (allowed only for info; for info it is
 *                ignored and treated as infinity)
 *   outcome      ok | fail | info
 *   result       get ok: the value read, or - if the key was absent;
 *                cas ok: ok (swapped) or failed (the expected value did not match);
 *                anything else: - (ignored)
 *
 *   Multi-key ops are checked as ONE atomic operation over every key they touch, taking
 *   effect at a single point between invoke and complete, against a model holding all
 *   those keys (lincheck_model.c): a txn applied half-way, or whose keys changed at two
 *   different times, or a range that read a torn state, is a violation. Lists are
 *   comma-separated, each element percent-encoded (',' and '=' inside an element written
 *   %2C and %3D); a list field that is exactly "-" is the empty list.
 *   <proc> range <prefix> - - <invoke_us> <complete_us> <outcome> <k=v,k=v,...>
 *                every key the range covered with its value, "-" for absent (the recorder
 *                lists each key it tracks under the prefix; "" for none); ok: one atomic
 *                read of all of them.
 *   <proc> mtxn <compares> <then> <else> <invoke_us> <complete_us> <outcome> <r>
 *                a transaction: if every compare holds, the ops of <then> run in order,
 *                else those of <else>. Compares: e:K=V (K holds V; V "-": K is absent),
 *                n:K=V (K is present and does not hold V; V "-": K is present). Ops:
 *                p:K=V (put), d:K (delete), g:K=V (get that read V, "-" absent; a get
 *                sees the earlier ops of its branch) or g:K (get, result not recorded).
 *                r is ok (the compares held: <then> ran) or failed (<else> ran); info:
 *                either branch, or nothing, and the gets constrain nothing.
 *   <proc> txn <k1,k2,...> <v1,v2,...> <expected> <invoke_us> <complete_us> <outcome> <r>
 *                shorthand for "mtxn e:k1=expected p:k1=v1,p:k2=v2,... -": compare k1 ==
 *                expected ("-": k1 absent), then put every ki = vi; r is ok (the compare
 *                held, all put) or failed (nothing put).
 *
 *   Example:
 *     1 put color red - 1000 1800 ok -
 *     2 get color - - 1200 1300 ok red
 *     3 cas color red blue 1500 - info -
 *     2 get my%20key - - 2000 2100 ok -
 *
 * Events with equal timestamps are treated as concurrent (an invoke at time t may be ordered
 * before a complete at time t), which avoids false alarms from coarse clocks.
 *
 * Ownership: a history owns copies of every string added to it; lincheck_history_free
 * releases them. The checker only reads the history.
 */
#ifndef VESPER_TESTS_LIB_LINCHECK_H
#define VESPER_TESTS_LIB_LINCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum lincheck_op_type {
    LINCHECK_GET,
    LINCHECK_PUT,
    LINCHECK_DELETE,
    LINCHECK_CAS,
    LINCHECK_RANGE, /* a multi-key read: subs are gets */
    LINCHECK_TXN,   /* compares, then one of two branches: subs */
};
enum lincheck_outcome { LINCHECK_OK, LINCHECK_FAIL, LINCHECK_INFO };

/* A byte string; data == NULL means "absent" (no value), len 0 with data != NULL is "". */
struct lincheck_val {
    const char *data;
    size_t len;
};

#define LINCHECK_ABSENT ((struct lincheck_val){NULL, 0})
#define LINCHECK_STR(s) ((struct lincheck_val){(s), strlen(s)})

/* One part of a multi-key op: a compare of a txn, or an op of a range or txn branch. */
enum lincheck_sub_type {
    LINCHECK_SUB_EQ,     /* compare: key holds value (absent value: key absent) */
    LINCHECK_SUB_NE,     /* compare: key present and not holding value (absent: present) */
    LINCHECK_SUB_PUT,    /* value written */
    LINCHECK_SUB_DELETE, /* value unused */
    LINCHECK_SUB_GET,    /* value read when has_result (absent = not found) */
};

struct lincheck_sub {
    enum lincheck_sub_type type;
    struct lincheck_val key;
    struct lincheck_val value;
    bool has_result; /* get: value holds what was read */
};

struct lincheck_op {
    uint64_t proc;
    enum lincheck_op_type type;
    struct lincheck_val key;
    struct lincheck_val value;    /* put: written; cas: new value */
    struct lincheck_val expected; /* cas only; absent = expects no key */
    int64_t invoke_us;
    int64_t complete_us; /* INT64_MAX for info */
    enum lincheck_outcome outcome;
    struct lincheck_val result; /* get ok: the value read (absent = not found) */
    bool cas_swapped;           /* cas ok: true = swapped, false = failed; txn ok: true =
                                   the compares held (then ran), false = else ran */
    int line;                   /* source line when parsed from a file, else 0 */
    /* range and txn only (n_subs 0 otherwise): subs[0..n_cmp) are the compares,
     * subs[n_cmp..n_cmp+n_then) the then branch (a range's gets), the rest the else
     * branch. key is a range's prefix, a txn's first key (for explanations). */
    struct lincheck_sub *subs;
    size_t n_subs, n_cmp, n_then;
};

struct lincheck_history {
    struct lincheck_op *ops;
    size_t n_ops;
    size_t cap;
};

void lincheck_history_init(struct lincheck_history *h);
void lincheck_history_free(struct lincheck_history *h);

/* Appends a copy of *op (its strings and subs are copied). Returns 0, or -1 when out of
 * memory. */
int lincheck_history_add(struct lincheck_history *h, const struct lincheck_op *op);

/* A range and a txn shorthand (the format above) as one multi-key op: base gives proc,
 * times, outcome and line (range: key is the prefix; txn: expected and cas_swapped);
 * keys[i] with vals[i] (range: the value read, absent = not found; txn: the value put).
 * A range that did not complete ok says nothing and is not added. 0, or -1 when out of
 * memory. */
int lincheck_history_add_range(struct lincheck_history *h, const struct lincheck_op *base, size_t n,
                               const struct lincheck_val *keys, const struct lincheck_val *vals);
int lincheck_history_add_txn(struct lincheck_history *h, const struct lincheck_op *base, size_t n,
                             const struct lincheck_val *keys, const struct lincheck_val *vals);

/* Parses one line of the file format above and appends it. Returns 1 when an op was added,
 * 0 for a blank or comment line, -1 with a message in err on bad input or no memory. */
int lincheck_history_parse_line(struct lincheck_history *h, const char *line, int line_no,
                                char *err, size_t errlen);

/* Reads a whole history file. Returns 0, or -1 with "FILE:LINE: problem" in err. */
int lincheck_history_load(struct lincheck_history *h, const char *path, char *err, size_t errlen);

/* Writes op as one line of the file format (with the newline). Returns 0 or -1. */
int lincheck_op_write(FILE *out, const struct lincheck_op *op);

/* Writes v percent-encoded as one field ("-" for absent, "" for empty) to out. */
int lincheck_val_write(FILE *out, struct lincheck_val v);

enum lincheck_result {
    LINCHECK_LINEARIZABLE = 0,
    LINCHECK_VIOLATION = 1,
    LINCHECK_UNKNOWN = 2,
};

struct lincheck_opts {
    uint64_t max_steps_per_key; /* search steps before giving up on one part; 0 = default */
    size_t max_cache_bytes;     /* memo cache (and model) memory for one part; 0 = default */
    FILE *explain;              /* where violations and unknowns are explained; may be NULL */
};

#define LINCHECK_DEFAULT_MAX_STEPS       20000000ull
#define LINCHECK_DEFAULT_MAX_CACHE_BYTES (256u * 1024u * 1024u)

struct lincheck_report {
    size_t n_keys;        /* keys checked */
    size_t n_parts;       /* independent parts (keys linked by multi-key ops) checked */
    size_t n_multi_parts; /* parts checked against the multi-key model */
    size_t n_ops_checked; /* ops left after dropping fail ops and redundant info ops */
    size_t n_violations;  /* parts found not linearizable */
    size_t n_unknown;     /* parts whose search ran out of budget */
    uint64_t steps;       /* search steps over all keys */
    size_t cache_entries; /* memo entries over all keys */
};

/* Partitions the history into independent parts: keys touched by one multi-key op belong
 * to one part (union-find), and linearizability is compositional over parts. A part of one
 * key without multi-key ops is a register; any other part is checked against a model of
 * all its keys, each multi-key op one atomic step. Returns LINCHECK_VIOLATION if any part
 * is not linearizable, else LINCHECK_UNKNOWN if any part ran out of budget (or memory),
 * else LINCHECK_LINEARIZABLE. opts and report may be NULL. */
enum lincheck_result lincheck_check(const struct lincheck_history *h,
                                    const struct lincheck_opts *opts,
                                    struct lincheck_report *report);

/* One line describing op, for explanations: "line 7: proc 2 get k -> \"v\" [10, 20] ok". */
void lincheck_op_describe(FILE *out, const struct lincheck_op *op);

#endif
