/* itest_watch.h: watchers of the container suite (itest_watch.c) and the check of their
 * streams against the committed history (itest_watch_check.c).
 *
 * Ownership: a watcher owns its thread and its recorded events until itest_watcher_free.
 * Only the watcher's thread writes its fields while it runs, except the atomics, which
 * the suite's main thread uses to steer it; the rest is read after itest_watcher_stop.
 */
#ifndef VESPER_TESTS_INTEGRATION_ITEST_WATCH_H
#define VESPER_TESTS_INTEGRATION_ITEST_WATCH_H

#include "integration/itest.h"

struct json_object;

struct itest_watch_event {
    int64_t rev;
    char *text; /* "put KEY=VALUE cC mM vN" or "delete KEY= c-1 mM v-1" */
};

struct itest_watcher {
    struct itest_cluster *c;
    char prefix[32];
    int node;         /* the node it streams from (or tries next) */
    int64_t first;    /* the first revision it owes (0 until the stream said) */
    int64_t last_rev; /* the newest revision it received events of */
    struct itest_watch_event *events;
    size_t n_events, cap_events;
    int reconnects, n_closed, n_compacted, n_out_of_order, n_notes;
    char note[160]; /* the first oddity seen (a line that is not JSON, an odd reply) */
    char line[8192];
    size_t line_len;
    pthread_t thread;
    bool started;
    atomic_bool stop, kick; /* kick: end this connection, take the next node */
    atomic_int target;      /* node to take after a kick (-1: the next one) */
    atomic_int on_node;     /* the node whose stream it is reading, -1 between */
    atomic_llong progress;  /* it holds every change of its range up to here */
};

/* Starts streaming prefix from node, from revision `from` (0: from now). 0 or -1. */
int itest_watcher_start(struct itest_watcher *w, struct itest_cluster *c, const char *prefix,
                        int node, int64_t from);
/* Moves it to node (from = last + 1) and waits up to timeout_ms until it streams there. */
void itest_watcher_aim(struct itest_watcher *w, int node, long timeout_ms);
/* Waits until it holds every change up to rev; moves it on when its node stands still. */
bool itest_watcher_wait(struct itest_watcher *w, int64_t rev, long timeout_ms);
void itest_watcher_stop(struct itest_watcher *w);
void itest_watcher_free(struct itest_watcher *w);

/* The canonical text of one event object of a stream (struct itest_watch_event). */
void itest_watch_event_text(struct json_object *e, char *out, size_t len);

#define ITEST_WATCHERS 4

/* The suite's watchers: started before the load, steered to the leader before each
 * leader fault, checked at the end. */
struct itest_watch_set {
    struct itest_watcher w[ITEST_WATCHERS];
    int n;
};

/* Starts the watchers (prefixes "p" from revision 1, "p", "u1-" and "" from now, on
 * nodes 0..3). 0 or -1. */
int itest_watch_start(struct itest_watch_set *s, struct itest_cluster *c);
/* Sends two of them to node (the leader about to fail). */
void itest_watch_aim(struct itest_watch_set *s, int node);
/* After itest_load_stop: reads the final range and the committed history, then checks every
 * stream against it (one result line, "watch-streams"); h holds the acknowledged writes.
 * Frees the watchers. */
void itest_watch_check(struct itest_ctx *x, struct itest_watch_set *s,
                       const struct lincheck_history *h);

#endif
