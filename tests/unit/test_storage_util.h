/* test_storage_util.h: helpers shared by the storage test files: temporary
 * directories, deterministic entries, a quiet options block, file copies. */
#ifndef VESPER_TESTS_UNIT_TEST_STORAGE_UTIL_H
#define VESPER_TESTS_UNIT_TEST_STORAGE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define TS_MAX_ENTRY 256

/* A fresh directory under /tmp; tsu_rmdir removes it and everything inside. */
void tsu_mkdtemp(char *out, size_t cap);
void tsu_rmdir(const char *dir);
/* Options that log into tsu_last_log instead of stderr. */
void tsu_options(struct storage_options *o);
extern char tsu_last_log[512];
extern int tsu_n_logs;
/* The same sys table without fsync/fdatasync: parsing tests need no durability. */
extern const struct storage_sys tsu_sys_nosync;
int tsu_nosync_fn(int fd);

/* Entry i of "generation" gen: payload depends on both, length 0..200. */
struct raft_entry tsu_entry(raft_index index, raft_term term, uint32_t gen,
                            uint8_t buf[TS_MAX_ENTRY]);
/* True when e has exactly the payload tsu_entry would make. */
int tsu_entry_ok(const struct raft_entry *e, uint32_t gen);

int tsu_read(const char *path, uint8_t **buf, size_t *len);
int tsu_write(const char *path, const uint8_t *buf, size_t len);
/* Segment path of seq in dir. */
void tsu_seg_path(const char *dir, uint64_t seq, char *out, size_t cap);
int tsu_count_files(const char *dir, const char *suffix);

/* storage_open, printing the error. */
int tsu_open(const char *dir, struct storage_options *o, struct storage **st,
             struct storage_boot *b);
/* Appends [from, to] of term/gen in batches of batch, syncing after each. */
int tsu_append_range(struct storage *st, raft_index from, raft_index to, raft_term term,
                     uint32_t gen, size_t batch);
/* The boot's entries hold exactly [from, to] with this term and gen. */
int tsu_boot_has(const struct storage_boot *b, raft_index from, raft_index to, raft_term term,
                 uint32_t gen);
/* A three-member configuration (two voters, one learner). */
struct raft_conf tsu_conf(void);
/* The exact bytes of a snapshot file as a leader sends them (index, term, tsu_conf,
 * data_len bytes of 's'); returns its size. */
size_t tsu_snap_file(raft_index index, raft_term term, size_t data_len, uint8_t *img, size_t cap);
/* The same with the given payload. */
size_t tsu_snap_file_of(raft_index index, raft_term term, const uint8_t *data, size_t data_len,
                        uint8_t *img, size_t cap);

#endif
