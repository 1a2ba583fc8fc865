/* vwire.h: the client's side of the v1 protocol on the wire, for vclient.c:
 * request URLs and bodies, reply bodies and what they mean.
 *
 * vwire_request_url: a node address as given ("host:port", "http://host:port/",
 * ".../request") as the URL of its /request endpoint (http:// when no scheme is
 * given); malloc'ed, NULL on ENOMEM.
 * vwire_body: the JSON body of a get/put/delete/cas request, with client_id and seq
 * when seq != 0 (exactly-once); malloc'ed, *len its length, NULL on ENOMEM.
 * vwire_json_body: the same for any request type with a payload built by the
 * caller (taken, also on failure).
 * vwire_judge: reads code / error / payload.{value,message} of a reply body. A
 * Vesper reply is moved into resp (which takes *data, leaving NULL); anything else
 * (not JSON, no "code") is left in *data and means retry. A follower's answer
 * naming the leader's URL means redirect (*redirect: that URL, malloc'ed); the
 * answers whose outcome a retry can still settle (no_leader, timeout, unavailable)
 * mean retry; every other answer is done.
 */
#ifndef VESPER_CLIENT_VWIRE_H
#define VESPER_CLIENT_VWIRE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "vclient.h"

enum vwire_verdict { VWIRE_DONE, VWIRE_REDIRECT, VWIRE_RETRY };

/* A reply body as it arrives (NUL-terminated), at most VWIRE_MAX_REPLY_BYTES;
 * vwire_buf_write is its libcurl write callback (ctx: the buffer). */
#define VWIRE_MAX_REPLY_BYTES (64u << 20)
struct vwire_buf {
    char *data;
    size_t len, cap;
};
size_t vwire_buf_write(char *p, size_t size, size_t nmemb, void *ctx);

char *vwire_request_url(const char *base);
char *vwire_body(uint64_t client_id, const struct vclient_req *r, uint64_t seq, size_t *len);
char *vwire_json_body(uint64_t client_id, const char *type, json_object *payload, uint64_t seq,
                      size_t *len);
enum vwire_verdict vwire_judge(struct vclient_resp *resp, char **data, size_t len, long http_status,
                               char **redirect);

#endif
