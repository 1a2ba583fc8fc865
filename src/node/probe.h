/* probe.h: `vesperd --probe URL`, the health check of a scratch image, which has
 * no shell or curl: GET URL/health over a plain socket (TLS for https://, verified
 * against --peer-ca-file when given), exit 0 on HTTP 200. */
#ifndef VESPER_NODE_PROBE_H
#define VESPER_NODE_PROBE_H

#include "config.h"

/* Returns the process exit status: 0 healthy, 1 unhealthy or unreachable. */
int probe_health(const struct config_url *url, const struct vesper_config *cfg);

#endif
