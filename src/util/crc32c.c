/* crc32c.c: CRC-32C with a hardware path and a table fallback.
 *
 * The fallback is slicing-by-8: eight 256-entry tables, 8 bytes per step (several
 * times the speed of one table lookup per byte), loading words byte by byte so it
 * is the same on any byte order.
 *
 * The hardware path is compiled with __attribute__((target("sse4.2"))) so the rest
 * of the build needs no -msse4.2, and it is only called after
 * __builtin_cpu_supports("sse4.2") said yes, so the binary still runs on a CPU
 * without it. Appends checksum every byte they write, so this is on the hot path.
 */
#include "util/crc32c.h"

#include <string.h>

#define CRC32C_POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t crc_table[8][256];
static int crc_mode; /* 0: not yet decided, 1: table, 2: hardware */

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    int mode = 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        mode = 2;
#endif
    __atomic_store_n(&crc_mode, mode, __ATOMIC_RELEASE);
}

static void crc_ensure(void)
{
    /* Idempotent: two threads racing here compute the same table and mode. */
    if (__atomic_load_n(&crc_mode, __ATOMIC_ACQUIRE) == 0)
        crc_init();
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
    crc_ensure();
    const uint8_t *p = buf;
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
              crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* unaligned-safe; compiles to one load */
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}
#endif

bool crc32c_hw_available(void)
{
    crc_ensure();
    return crc_mode == 2;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t n)
{
    crc_ensure();
#if defined(__x86_64__)
    if (crc_mode == 2)
        return crc32c_hw(crc, buf, n);
#endif
    return crc32c_sw(crc, buf, n);
}

/* Product of a and b, polynomials over GF(2) modulo the Castagnoli polynomial, in
 * the reflected order the CRC register uses: bit 31 holds x^0, bit 0 x^31. */
static uint32_t gf2_mul(uint32_t a, uint32_t b)
{
    uint32_t product = 0;
    for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
        if (a & bit)
            product ^= b;
        b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1; /* b times x */
    }
    return product;
}

uint32_t crc32c_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    /* Extending a CRC over n bytes multiplies the register by x^(8n) and adds
     * the bytes' own contribution; the pre- and post-inversion cancel, so
     * crc(A then B) = crc(A) * x^(8|B|) + crc(B). x^(8|B|) by repeated squaring. */
    uint32_t power = 1u << 31;  /* x^0 */
    uint32_t square = 1u << 23; /* x^8: one byte */
    for (uint64_t n = len_b; n != 0; n >>= 1) {
        if (n & 1)
            power = gf2_mul(power, square);
        square = gf2_mul(square, square);
    }
    return gf2_mul(crc_a, power) ^ crc_b;
}
