#pragma once
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer on `test` with the command line (what libFuzzer's own `main` does) and exits with its status.
/// Only in builds made by `Fuzz/run.sh` (`STRATA_FUZZING`, libFuzzer linked); elsewhere it says so and exits 2.
void strata_fuzz_run(int argc, char *_Nullable *_Nonnull argv, int (*_Nonnull test)(const uint8_t *_Nonnull data, size_t size));
