#ifndef STRATA_RANDOM_H
#define STRATA_RANDOM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Fills `length` bytes from the operating system's random generator (Linux: getrandom, retried on EINTR and
/// short reads; Apple platforms: arc4random_buf). Returns 0 on success, -1 when no generator answered (the bytes
/// are then unspecified).
int strata_random_bytes(void *buffer, size_t length);

#ifdef __cplusplus
}
#endif

#endif
