/* crc32c.h: CRC-32C (Castagnoli), the checksum of every WAL record, snapshot file
 * and kv snapshot.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run
 * time), a table otherwise; both give identical results.
 */
#ifndef VESPER_UTIL_CRC32C_H
#define VESPER_UTIL_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over n bytes; crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);
/* The table implementation alone (tests compare the two). */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t n);
bool crc32c_hw_available(void);
/* The CRC of A followed by B, from crc32c(0, A), crc32c(0, B) and B's length: for a
 * checksum over bytes that precede ones already summed (a header written last). */
uint32_t crc32c_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

#endif
