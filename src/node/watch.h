/* watch.h: the /watch endpoint's watchers: streams of the changes the state
 * machine applies to a key or a prefix, read from its history window
 * (src/kv/kv_hist.h) and sent as newline-delimited JSON over one chunked
 * HTTP/1.1 response per watcher.
 *
 * A watcher holds no copy of the events: only a cursor (the next revision it owes
 * its client) and the bytes of the chunk h2o is writing. After every loop
 * iteration node_watch_pump() gives each watcher whose previous chunk was written
 * the events from its cursor on (whole revisions, up to WATCH_CHUNK_BYTES), or a
 * progress line when it is current and idle for a second. A watcher whose client
 * reads too slowly is closed: a live watcher more than --watch-max-lag revisions
 * behind whose last chunk has waited WATCH_STALL_MS, or any watcher whose cursor
 * fell out of the window. Memory per watcher
 * is thus one chunk, whatever its client does.
 *
 * Ownership: a watcher lives in its request's pool; the pool's dispose hook
 * unlinks it from the node and frees its chunk.
 */
#ifndef VESPER_NODE_WATCH_H
#define VESPER_NODE_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>

#define WATCH_CHUNK_BYTES (64u * 1024)
#define WATCH_PROGRESS_MS 1000
#define WATCH_STALL_MS    1000 /* a chunk unwritten this long: the client is not reading */

struct node;

struct node_watcher {
    h2o_generator_t gen; /* first: h2o hands it back to proceed and stop */
    h2o_linklist_t link; /* in node.watchers */
    h2o_req_t *req;      /* NULL once the response ended or the client left */
    struct node *node;
    char *start, *end; /* [start, end) in the request pool; end NULL: no bound */
    size_t start_len, end_len;
    uint64_t next_rev;     /* the first revision not yet sent */
    bool live;             /* has been current once: the lag bound applies */
    bool sending;          /* h2o is writing buf: wait for proceed */
    bool sse;              /* server-sent events (Accept: text/event-stream) */
    const char *close_why; /* set: send {"type":"closed"} and end */
    uint64_t last_sent_ms;
    char *buf; /* the chunk being written (malloc) */
    size_t len, cap;
};

/* watch_send.c */
/* Sends what w owes its client, if h2o is ready for more. */
void node_watch_pump_one(struct node_watcher *w);

#endif
