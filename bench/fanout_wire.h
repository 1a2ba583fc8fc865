/* fanout_wire.h: what bench/watch_fanout.c sends and how it reads an event's key, for
 * etcd's JSON gateway and for Vesper: the watch request on a prefix, the PUT of one
 * numbered key, over blocking TCP connections to http://IPv4:PORT addresses. */
#ifndef BENCH_FANOUT_WIRE_H
#define BENCH_FANOUT_WIRE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "http://A.B.C.D:PORT" (url[0..len)) into *sa; 0 or -1. */
int wire_parse_url(const char *url, size_t len, struct sockaddr_in *sa);

/* A connected socket (TCP_NODELAY, 5 s send timeout), or -1. */
int wire_dial(const struct sockaddr_in *sa);

/* Starts a watch of every key beginning with prefix on fd: Vesper GET /watch?prefix=P,
 * etcd POST /v3/watch with a create_request for [P, P with its last byte + 1). The
 * prefix holds only [a-z0-9-_./]. 0 or -1. */
int wire_send_watch(int fd, bool etcd, const char *prefix);

/* PUTs key prefix + seq (8 digits) with a value of value_bytes 'v's (at most 4000):
 * Vesper PUT /request, etcd POST /v3/kv/put. 0 or -1. */
int wire_send_put(int fd, bool etcd, const char *prefix, uint64_t seq, int value_bytes);

/* Whether a PUT's answer (HTTP status, NUL-terminated body) is a success. */
bool wire_put_ok(bool etcd, int status, const char *body);

/* The sequence number of an event's key as it appears in the stream (Vesper: the key;
 * etcd: its base64), or 0 when the key is not prefix + digits. */
uint64_t wire_event_seq(bool etcd, const char *prefix, const char *k, size_t klen);

#endif
