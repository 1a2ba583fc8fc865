/* fuzz.h: what every fuzz target in tests/fuzz shares.
 *
 * Each target defines LLVMFuzzerTestOneInput (libFuzzer's entry point) and is built
 * twice: with clang -fsanitize=fuzzer,address,undefined for `make fuzz`, and with gcc
 * plus ASan/UBSan against replay.c for the corpus regression run in `make test`.
 * FUZZ_CHECK is the targets' property check: it aborts (a crash libFuzzer records)
 * with the condition and line, so a property violation is minimized like a crash.
 * The helpers cover what several targets need: a private directory on tmpfs, a file
 * written in one call, and a byte reader over the input.
 */
#ifndef VESPER_TESTS_FUZZ_FUZZ_H
#define VESPER_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "FUZZ_CHECK failed %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* A directory private to this process, created once under /dev/shm (tmpfs: no disk
 * writes per execution) or /tmp, removed at exit. */
const char *fuzz_dir(void);
/* Removes every file in fuzz_dir() (the directory is flat). */
void fuzz_dir_clear(void);
/* Writes len bytes to fuzz_dir()/name; aborts on I/O errors (the harness is broken,
 * not the code under test). out receives the full path when not NULL. */
void fuzz_write_file(const char *name, const uint8_t *buf, size_t len, char *out, size_t cap);

/* Consumes the input front to back; reads past the end yield zeros. */
struct fuzz_in {
    const uint8_t *p;
    size_t left;
};
uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
uint64_t fuzz_u64(struct fuzz_in *in);
/* Up to want bytes of the input (fewer at its end); *got receives the count. */
const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t want, size_t *got);

#endif
