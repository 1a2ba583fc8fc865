/* seeds.h: the seed writers shared by seeds.c (binary formats) and seeds_more.c
 * (storage, text and raft-script seeds). */
#ifndef VESPER_TESTS_FUZZ_SEEDS_H
#define VESPER_TESTS_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdint.h>

/* Writes OUT_DIR/target/name; exits on error (a generator has no recovery). */
void seed_write(const char *target, const char *name, const void *buf, size_t len);
/* The same with one selector byte (mode, method or node id) in front. */
void seed_write_prefixed(const char *target, const char *name, uint8_t b0, const void *buf,
                         size_t len);

void seeds_storage(void);
void seeds_text(void);
void seeds_raft(void);

#endif
