/* api_int.h: what the files of src/api share and nothing else sees (and their
 * tests): the parse state and field readers (api.c), the direct parser of the
 * common bodies (parse_fast.c), the reply object builders (reply.c), and the
 * parsers and builders of the range, txn and lease types (range.c, txn.c, lease.c).
 *
 * A struct jb builds a reply without checking each step: one allocation failure
 * anywhere sets failed, and finish() then reports -1 (json-c add functions
 * accept a NULL value, so the failure is tracked here instead).
 */
#ifndef VESPER_API_API_INT_H
#define VESPER_API_API_INT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

struct parse {
    const struct api_limits *limits;
    struct api_request *req;
    char *detail;
    size_t detail_len;
};

/* Writes the reason to p->detail; returns e. */
__attribute__((format(printf, 3, 4))) enum api_error perr(struct parse *p, enum api_error e,
                                                          const char *fmt, ...);
/* malloc'd copy of n bytes plus a NUL; NULL on ENOMEM. */
char *api_dup_bytes(const char *s, size_t n);
/* String field name of obj into a malloc'd *dst: 1 absent (nothing set), 0 ok,
 * -1 with *err set (not a string, over max, ENOMEM). */
int get_string(struct parse *p, json_object *obj, const char *name, size_t max, char **dst,
               size_t *len, enum api_error *err);
/* A non-negative JSON integer; -1 otherwise. */
int get_u64(json_object *v, uint64_t *out);

/* The default type of an HTTP method (NULL: the body must name one); *only_get
 * for GET, which may only read. -1 for a method /request refuses. */
int api_method_default(const char *m, size_t n, const char **type, bool *only_get);
/* The largest body parse_json reads under limits (larger: too_large). */
size_t api_body_cap(const struct api_limits *limits);
/* api_parse_request without the direct path: json-c decides (api.c). */
enum api_error api_parse_request_json(const char *method, size_t method_len, const char *body,
                                      size_t body_len, const struct api_limits *limits,
                                      struct api_request *out, char *detail, size_t detail_len);
/* parse_fast.c: the direct path for the common get, put and delete bodies. True
 * when it took the body: *out is then what api_parse_request_json fills (free
 * with api_request_free). False for any other body: *out is zeroed, nothing is
 * allocated, and api_parse_request_json decides, errors included. */
bool api_parse_fast(const char *method, size_t method_len, const char *body, size_t body_len,
                    const struct api_limits *limits, struct api_request *out);

/* range.c, txn.c: payload fields of the type, into p->req. */
enum api_error api_parse_range(struct parse *p, json_object *payload);
enum api_error api_parse_txn(struct parse *p, json_object *payload);
/* lease.c: the payload of a lease_* type, and the optional "lease" of a put/cas. */
enum api_error api_parse_lease(struct parse *p, json_object *payload);
enum api_error api_parse_lease_of_put(struct parse *p, json_object *payload);
/* lease.c: the command of a lease_grant, lease_revoke or lease_keepalive. */
int api_lease_to_cmd(const struct api_request *r, struct kv_cmd *cmd);

struct jb {
    int failed;
};

json_object *jb_str(struct jb *b, const char *s, size_t n);
json_object *jb_u64(struct jb *b, uint64_t v);
json_object *jb_bool(struct jb *b, bool v);
json_object *jb_obj(struct jb *b);
json_object *jb_arr(struct jb *b);
void jb_add(struct jb *b, json_object *obj, const char *k, json_object *v);
void jb_push(struct jb *b, json_object *arr, json_object *v);
/* Adds create_revision, mod_revision, version of r to obj. */
void jb_revisions(struct jb *b, json_object *obj, const struct kv_rec *r);
/* {"code":"success"} or {"code":"fail","error":R} to extend. */
json_object *reply_head(struct jb *b, enum api_error e);
/* {"key":K[,"value":V]}. */
json_object *key_value(struct jb *b, const char *key, size_t key_len, const char *value,
                       size_t value_len, bool has_value);
/* Serializes o into out (and frees o); -1 when anything failed. */
int finish(struct jb *b, json_object *o, enum api_error e, struct api_reply *out);

#endif
