/* docker_api.h: the few Docker Engine API calls the integration suite needs, made with
 * libcurl over the local unix socket (CURLOPT_UNIX_SOCKET_PATH): no docker CLI, and no
 * way to reach any other engine (the socket path is the only transport).
 *
 * Containers are found by their compose labels (com.docker.compose.project/service), so
 * compose v1 (project_service_1) and v2 (project-service-1) names both work.
 *
 * Ownership: struct docker owns its libcurl handle. JSON results handed out by
 * docker_call are owned by the caller (json_object_put). Not thread-safe: the suite
 * drives Docker from its main thread only.
 */
#ifndef VESPER_TESTS_INTEGRATION_DOCKER_API_H
#define VESPER_TESTS_INTEGRATION_DOCKER_API_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <stddef.h>

#define DOCKER_ID_MAX 80

struct docker {
    CURL *curl;
    char socket_path[108];
    char err[256]; /* the last failure, for messages */
};

/* Returns 0, or -1 (libcurl could not be set up). */
int docker_init(struct docker *d, const char *socket_path);
void docker_free(struct docker *d);

/* One API call: METHOD PATH (e.g. "/containers/ID/stop?t=10") with an optional JSON body.
 * Returns the HTTP status, or -1 on a transport error (d->err). *out, when out is non-NULL,
 * receives the parsed reply or NULL (empty or non-JSON body). */
long docker_call(struct docker *d, const char *method, const char *path, const char *body,
                 long timeout_ms, struct json_object **out);

/* The id of the one container of compose service `service` in `project`. 0 or -1. */
int docker_find_service(struct docker *d, const char *project, const char *service,
                        char id[DOCKER_ID_MAX]);

/* The compose project label of container `id` (the suite's own: its HOSTNAME). 0 or -1. */
int docker_project_of(struct docker *d, const char *id, char *project, size_t len);

/* POST /containers/ID/OP for OP in stop, start, restart, pause, unpause, kill (stop and
 * restart wait up to grace_s before SIGKILL; kill sends SIGKILL at once). "Already in that
 * state" (304) counts as success. */
int docker_container_op(struct docker *d, const char *id, const char *op, int grace_s);

/* Name of the network of container `id` whose name ends with `suffix` ("_raft"), and the
 * container's IPv4 address on it (ip may be NULL). 0 or -1. */
int docker_network_of(struct docker *d, const char *id, const char *suffix, char *net,
                      size_t net_len, char *ip, size_t ip_len);

/* Detaches `id` from network `net`, or attaches it with DNS alias `alias` (may be NULL). */
int docker_net_disconnect(struct docker *d, const char *net, const char *id);
int docker_net_connect(struct docker *d, const char *net, const char *id, const char *alias);

#endif
