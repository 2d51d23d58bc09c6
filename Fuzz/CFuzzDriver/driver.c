// The fuzz targets' entry point. SwiftPM's own fuzzer switch (--sanitize=fuzzer) also applies to the build-time
// tools (the macro plugin, whose main then clashes with libFuzzer's), so Fuzz/run.sh passes the sanitizer flags
// through a toolset (target code only) instead, and each target's top-level code calls this.
#include "strata_fuzz_driver.h"
#include <stdio.h>
#include <stdlib.h>

#ifdef STRATA_FUZZING
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));
#endif

void strata_fuzz_run(int argc, char **argv, int (*test)(const uint8_t *data, size_t size)) {
#ifdef STRATA_FUZZING
    exit(LLVMFuzzerRunDriver(&argc, &argv, test));
#else
    (void)argc;
    (void)argv;
    (void)test;
    fprintf(stderr, "built without libFuzzer: run it through Fuzz/run.sh (make fuzz)\n");
    exit(2);
#endif
}
