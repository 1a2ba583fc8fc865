/* cluster_tool.h: what the files of build/cluster-tool share (see cluster_tool.c for the
 * subcommands). cluster_tool.c owns main, the endpoint list and the writers; tool_status.c
 * the /status readers (states, members); tool_casrun.c the exactly-once CAS chain. They are
 * one program so the suite has one helper binary to build and find.
 */
#ifndef VESPER_TESTS_CLUSTER_TOOL_H
#define VESPER_TESTS_CLUSTER_TOOL_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOOL_MAX_NODES 16

/* The ip_list lines (node i is tool_urls[i]) and the endpoints clients may use. */
extern char tool_urls[TOOL_MAX_NODES][128];
extern const char *tool_eps[TOOL_MAX_NODES];
extern size_t tool_n_eps;

/* CLOCK_MONOTONIC microseconds: the time base of histgen and of every history. */
int64_t tool_now_us(void);

/* A reply body collected by libcurl; larger replies fail the transfer. */
struct tool_buf {
    char data[16384];
    size_t len;
};

/* CURLOPT_WRITEFUNCTION for a struct tool_buf (CURLOPT_WRITEDATA). */
size_t tool_collect(char *data, size_t size, size_t nmemb, void *arg);

int tool_states(char **ids, int n_ids);
int tool_members(char **ids, int n_ids);
int tool_casrun(const char *key, uint64_t client_id, double secs, long lose_every);

#endif
