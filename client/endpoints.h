/* endpoints.h: the list of nodes the vesper CLI tries, and where it comes from.
 *
 * In order of precedence: --endpoints and --ip-list (both may be given and add up),
 * then $VESPER_ENDPOINTS, then the defaults of endpoints_default(). The v1 form's
 * ADDRESS always goes first.
 */
#ifndef VESPER_CLIENT_ENDPOINTS_H
#define VESPER_CLIENT_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>

#define ENDPOINTS_MAX 64

/* Ports `make up` publishes node i on: http://127.0.0.1:5000+i. */
#define ENDPOINTS_DEFAULT_PORT  5000
#define ENDPOINTS_DEFAULT_NODES 5

struct endpoints {
    const char *url[ENDPOINTS_MAX]; /* in the order they are tried */
    size_t n;
    char *owned[ENDPOINTS_MAX]; /* the strings this list allocated */
    size_t n_owned;
};

/* Adds one URL (surrounding whitespace stripped; empty and '#' lines skipped). -1 when
 * the list is full or out of memory. */
int endpoints_add(struct endpoints *e, const char *s, size_t n);
/* Adds a comma-separated list. */
int endpoints_add_list(struct endpoints *e, const char *list);
/* Adds one URL per line of path; -1 (with a message on stderr) when unreadable. */
int endpoints_add_file(struct endpoints *e, const char *path);
/* Puts url (borrowed) in front of the list. */
int endpoints_prepend(struct endpoints *e, const char *url);

/* With no endpoints given, reach the local cluster:
 *   ./ip_list.txt, when it exists: its URLs as written if every host is an IP address,
 *   localhost or a dotted name; otherwise (compose service names such as vesper0, which
 *   resolve only inside the compose network) line i becomes http://127.0.0.1:5000+i,
 *   the port compose publishes node i on;
 *   no ./ip_list.txt: http://127.0.0.1:5000 .. :5004, the five nodes of `make up`.
 * Writes a description of the choice to *source. -1 when nothing could be added. */
int endpoints_default(struct endpoints *e, const char **source);

/* True when s starts with http:// or https:// (any case): the v1 form's ADDRESS. */
bool endpoints_is_url(const char *s);

void endpoints_free(struct endpoints *e);

#endif
