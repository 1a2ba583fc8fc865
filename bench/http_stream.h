/* http_stream.h: an incremental reader of HTTP/1.1 responses and a base64 codec, for
 * the benchmark's watch tool (bench/watch_fanout.c).
 *
 * The reader takes the bytes of a connection as they arrive and splits them into
 * responses: the status line, the two framing headers (Content-Length,
 * Transfer-Encoding: chunked), and the body, handed to a callback piece by piece,
 * so a response that never ends (a watch stream) is read as it goes. Several
 * responses follow one another on a keep-alive connection. It allocates nothing:
 * a header block or chunk-size line longer than HS_HEADER_MAX is an error.
 */
#ifndef BENCH_HTTP_STREAM_H
#define BENCH_HTTP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#define HS_HEADER_MAX 8192

enum hs_state {
    HS_HEADER,      /* reading the status line and headers */
    HS_BODY_LEN,    /* a body of Content-Length bytes */
    HS_UNTIL_CLOSE, /* a body without framing: until the connection closes */
    HS_CHUNK_SIZE,  /* a chunk-size line */
    HS_CHUNK_DATA,  /* the bytes of a chunk */
    HS_CHUNK_END,   /* the CRLF after a chunk */
    HS_TRAILER      /* trailer lines after the last chunk, up to an empty line */
};

struct hs_reader {
    enum hs_state state;
    int status;         /* of the response being read */
    uint64_t remaining; /* body bytes (HS_BODY_LEN) or chunk bytes (HS_CHUNK_DATA) left */
    size_t hlen;
    char hbuf[HS_HEADER_MAX]; /* the header block or the current line */
};

/* Where a response goes. body_cb gets the body in pieces; done_cb is called once
 * the response has ended (with its status), after its last body_cb. Both get ctx. */
struct hs_sink {
    void (*body_cb)(void *ctx, const char *data, size_t len);
    void (*done_cb)(void *ctx, int status);
    void *ctx;
};

void hs_init(struct hs_reader *r);

/* Feeds len bytes read from the connection. 0, or -1 when the bytes are not an
 * HTTP/1.1 response (the connection is then unusable). */
int hs_feed(struct hs_reader *r, const char *data, size_t len, const struct hs_sink *sink);

/* Standard base64 with padding. b64_encode writes 4 * ((len + 2) / 3) characters
 * and a NUL to out and returns the count without the NUL. b64_decode writes at most
 * cap bytes and returns their count, or -1 on a character outside the alphabet or
 * an output longer than cap. */
size_t b64_encode(const unsigned char *in, size_t len, char *out);
long b64_decode(const char *in, size_t len, unsigned char *out, size_t cap);

#endif
