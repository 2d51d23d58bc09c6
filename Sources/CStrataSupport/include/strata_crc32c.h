#ifndef STRATA_CRC32C_H
#define STRATA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Extends a CRC32C (Castagnoli, reflected polynomial 0x82F63B78) over `length` bytes.
/// Start with crc = 0; the result of one call is the `crc` of the next, so data may be fed in pieces.
/// Uses the SSE4.2 `crc32` instruction when the CPU has it (checked once at run time), otherwise a
/// portable slicing-by-8 table implementation. Both give identical results.
uint32_t strata_crc32c_extend(uint32_t crc, const void *data, size_t length);

/// The portable implementation only; exposed so tests can check both paths agree.
uint32_t strata_crc32c_extend_portable(uint32_t crc, const void *data, size_t length);

/// 1 when the hardware (SSE4.2) path is in use, 0 otherwise.
int strata_crc32c_is_hardware(void);

#ifdef __cplusplus
}
#endif

#endif
