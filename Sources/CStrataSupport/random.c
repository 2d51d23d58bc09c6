#include "strata_random.h"

#if defined(__APPLE__)
#include <stdlib.h>

int strata_random_bytes(void *buffer, size_t length) {
    arc4random_buf(buffer, length);
    return 0;
}
#else
#include <errno.h>
#include <sys/random.h>

int strata_random_bytes(void *buffer, size_t length) {
    unsigned char *bytes = buffer;
    size_t filled = 0;
    while (filled < length) {
        ssize_t got = getrandom(bytes + filled, length - filled, 0);
        if (got > 0) {
            filled += (size_t)got;
        } else if (got < 0 && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}
#endif
