// CRC32C (Castagnoli). Hardware path: the SSE4.2 crc32 instruction, compiled with a per-function target
// attribute so the package needs no unsafe compiler flags, and chosen at run time. Fallback: slicing-by-8.
#include "strata_crc32c.h"

#include <string.h>

#define STRATA_CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];

__attribute__((constructor)) static void strata_crc32c_init_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int k = 0; k < 8; k++) {
            crc = (crc & 1u) ? (crc >> 1) ^ STRATA_CRC32C_POLY : crc >> 1;
        }
        crc_table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = crc_table[0][n];
        for (int k = 1; k < 8; k++) {
            crc = crc_table[0][crc & 0xFFu] ^ (crc >> 8);
            crc_table[k][n] = crc;
        }
    }
}

uint32_t strata_crc32c_extend_portable(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = (const uint8_t *)data;
    uint32_t c = ~crc;
    while (length > 0 && ((uintptr_t)p & 7u) != 0) {
        c = crc_table[0][(c ^ *p++) & 0xFFu] ^ (c >> 8);
        length--;
    }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        uint32_t lo = (uint32_t)word ^ c;
        uint32_t hi = (uint32_t)(word >> 32);
        c = crc_table[7][lo & 0xFFu] ^ crc_table[6][(lo >> 8) & 0xFFu] ^
            crc_table[5][(lo >> 16) & 0xFFu] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xFFu] ^ crc_table[2][(hi >> 8) & 0xFFu] ^
            crc_table[1][(hi >> 16) & 0xFFu] ^ crc_table[0][hi >> 24];
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        c = crc_table[0][(c ^ *p++) & 0xFFu] ^ (c >> 8);
        length--;
    }
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t strata_crc32c_extend_sse42(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = (const uint8_t *)data;
    uint64_t c = (uint32_t)~crc;
    while (length > 0 && ((uintptr_t)p & 7u) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        length--;
    }
    while (length >= 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        c = _mm_crc32_u64(c, w0);
        c = _mm_crc32_u64(c, w1);
        c = _mm_crc32_u64(c, w2);
        c = _mm_crc32_u64(c, w3);
        p += 32;
        length -= 32;
    }
    while (length >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        length--;
    }
    return ~(uint32_t)c;
}

static int strata_has_sse42 = -1;

__attribute__((constructor)) static void strata_crc32c_detect(void) {
    __builtin_cpu_init();
    strata_has_sse42 = __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

uint32_t strata_crc32c_extend(uint32_t crc, const void *data, size_t length) {
    if (strata_has_sse42 == 1) {
        return strata_crc32c_extend_sse42(crc, data, length);
    }
    return strata_crc32c_extend_portable(crc, data, length);
}

int strata_crc32c_is_hardware(void) { return strata_has_sse42 == 1; }

#else

uint32_t strata_crc32c_extend(uint32_t crc, const void *data, size_t length) {
    return strata_crc32c_extend_portable(crc, data, length);
}

int strata_crc32c_is_hardware(void) { return 0; }

#endif
