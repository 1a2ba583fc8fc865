/* http_stream.c: the incremental HTTP/1.1 response reader and base64 codec of
 * http_stream.h.
 *
 * Header blocks and chunk-size lines are small and read a byte at a time into
 * hbuf; body bytes, the bulk of a watch stream, go to the sink in runs as long as
 * the read that brought them. Only what the benchmark's servers send is
 * understood: Content-Length, chunked transfer coding, or a body that lasts until
 * the connection closes; 1xx, 204 and 304 answers have no body.
 */
#include "http_stream.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void hs_init(struct hs_reader *r)
{
    r->state = HS_HEADER;
    r->status = 0;
    r->remaining = 0;
    r->hlen = 0;
}

static void finish(struct hs_reader *r, const struct hs_sink *sink)
{
    int status = r->status;
    hs_init(r);
    if (sink->done_cb != NULL)
        sink->done_cb(sink->ctx, status);
}

/* The value of header `name` (with its colon) in the NUL-terminated block, or NULL. */
static const char *header_value(const char *block, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = strstr(block, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, n) == 0) {
            const char *v = line + n;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
    }
    return NULL;
}

/* The header block (in hbuf, NUL-terminated) is complete: status and framing. */
static int start_body(struct hs_reader *r, const struct hs_sink *sink)
{
    if (strncmp(r->hbuf, "HTTP/1.", 7) != 0 || strlen(r->hbuf) < 12)
        return -1;
    char *end;
    long status = strtol(r->hbuf + 9, &end, 10);
    if (end != r->hbuf + 12 || status < 100 || status > 999)
        return -1;
    r->status = (int)status;
    r->hlen = 0;
    if (status < 200 || status == 204 || status == 304) {
        finish(r, sink);
        return 0;
    }
    const char *te = header_value(r->hbuf, "transfer-encoding:");
    const char *cl = header_value(r->hbuf, "content-length:");
    if (te != NULL && strncasecmp(te, "chunked", 7) == 0) {
        r->state = HS_CHUNK_SIZE;
    } else if (cl != NULL) {
        r->remaining = strtoull(cl, &end, 10);
        if (end == cl)
            return -1;
        r->state = HS_BODY_LEN;
        if (r->remaining == 0)
            finish(r, sink);
    } else {
        r->state = HS_UNTIL_CLOSE;
    }
    return 0;
}

/* A complete line (without its LF) of a chunked body's framing, in hbuf. */
static int framing_line(struct hs_reader *r, const struct hs_sink *sink)
{
    size_t n = r->hlen;
    if (n > 0 && r->hbuf[n - 1] == '\r')
        n--;
    r->hbuf[n] = '\0';
    r->hlen = 0;
    switch (r->state) {
    case HS_CHUNK_END:
        if (n != 0)
            return -1;
        r->state = HS_CHUNK_SIZE;
        return 0;
    case HS_CHUNK_SIZE: {
        char *end;
        unsigned long long size = strtoull(r->hbuf, &end, 16);
        if (end == r->hbuf || (*end != '\0' && *end != ';' && *end != ' '))
            return -1;
        r->remaining = size;
        r->state = size == 0 ? HS_TRAILER : HS_CHUNK_DATA;
        return 0;
    }
    case HS_TRAILER:
        if (n == 0)
            finish(r, sink);
        return 0;
    default:
        return -1;
    }
}

int hs_feed(struct hs_reader *r, const char *data, size_t len, const struct hs_sink *sink)
{
    size_t i = 0;
    while (i < len) {
        switch (r->state) {
        case HS_HEADER:
            if (r->hlen + 1 >= HS_HEADER_MAX)
                return -1;
            r->hbuf[r->hlen++] = data[i++];
            if (r->hlen >= 4 && memcmp(r->hbuf + r->hlen - 4, "\r\n\r\n", 4) == 0) {
                r->hbuf[r->hlen] = '\0';
                if (start_body(r, sink) < 0)
                    return -1;
            }
            break;
        case HS_BODY_LEN:
        case HS_CHUNK_DATA:
        case HS_UNTIL_CLOSE: {
            size_t take = len - i;
            if (r->state != HS_UNTIL_CLOSE && take > r->remaining)
                take = (size_t)r->remaining;
            if (sink->body_cb != NULL)
                sink->body_cb(sink->ctx, data + i, take);
            i += take;
            if (r->state == HS_UNTIL_CLOSE)
                break;
            r->remaining -= take;
            if (r->remaining == 0) {
                if (r->state == HS_BODY_LEN)
                    finish(r, sink);
                else
                    r->state = HS_CHUNK_END;
            }
            break;
        }
        case HS_CHUNK_SIZE:
        case HS_CHUNK_END:
        case HS_TRAILER:
            if (data[i] == '\n') {
                i++;
                if (framing_line(r, sink) < 0)
                    return -1;
                break;
            }
            if (r->hlen + 1 >= HS_HEADER_MAX)
                return -1;
            r->hbuf[r->hlen++] = data[i++];
            break;
        }
    }
    return 0;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encode(const unsigned char *in, size_t len, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[k++] = b64_alphabet[v >> 18 & 63];
        out[k++] = b64_alphabet[v >> 12 & 63];
        out[k++] = i + 1 < len ? b64_alphabet[v >> 6 & 63] : '=';
        out[k++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[k] = '\0';
    return k;
}

static int b64_value(char c)
{
    const char *p = c != '\0' ? strchr(b64_alphabet, c) : NULL;
    return p != NULL ? (int)(p - b64_alphabet) : -1;
}

long b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < len && in[i] != '='; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (k == cap)
                return -1;
            out[k++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    return (long)k;
}
