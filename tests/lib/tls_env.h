/* tls_env.h: the test tools' https settings from the environment, as the vesper CLI reads
 * them: VESPER_CACERT (CA file to verify nodes with), VESPER_CERT and VESPER_KEY (client
 * certificate and key). Unset or empty variables leave libcurl's defaults. */
#ifndef VESPER_TESTS_LIB_TLS_ENV_H
#define VESPER_TESTS_LIB_TLS_ENV_H

#include <stdbool.h>
#include <stdlib.h>

#include <curl/curl.h>

static inline bool tls_env_apply(CURL *h)
{
    static const struct {
        const char *env;
        CURLoption opt;
    } map[] = {{"VESPER_CACERT", CURLOPT_CAINFO},
               {"VESPER_CERT", CURLOPT_SSLCERT},
               {"VESPER_KEY", CURLOPT_SSLKEY}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const char *v = getenv(map[i].env);
        if (v && *v && curl_easy_setopt(h, map[i].opt, v) != CURLE_OK)
            return false;
    }
    return true;
}

#endif
