#!/usr/bin/env bash
# Builds every libFuzzer target (fuzzer + AddressSanitizer, scratch path .build-fuzz) and runs each for
# SECONDS (default 60) on a corpus seeded from a real store (Fuzz/make-corpus.py; the corpus grows across runs
# in .build-fuzz/corpus/). Prints executions and coverage per target; exits 1 if any target crashed, hung or
# ran out of memory (the reproducer is in .build-fuzz/artifacts/TARGET/).
# Usage: Fuzz/run.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(FuzzFrame FuzzRecord FuzzSegmentFiles FuzzStore FuzzRepair FuzzIndexRun FuzzStreamHeads FuzzSnapshotFile FuzzImportLine FuzzEventPayload)
fi
export SWIFT_BACKTRACE=enable=no   # after a crash the backtracer can hang holding the output pipe
scratch=.build-fuzz
python3 Fuzz/make-corpus.py "$scratch/seeds" >/dev/null
failed=0
for target in "${targets[@]}"; do
  # The sanitizer flags through a toolset: they reach the targets' code only, not the build-time tools (the macro
  # plugin, built for the host, would get libFuzzer's main beside its own). Each target calls libFuzzer's driver.
  if ! swift build --product "$target" --toolset Fuzz/toolset.json \
      --scratch-path "$scratch" >"$scratch/build-$target.log" 2>&1; then
    echo "$target: BUILD FAILED (see $scratch/build-$target.log)"
    failed=1
    continue
  fi
  corpus="$scratch/corpus/$target"
  artifacts="$scratch/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  cp -n "$scratch/seeds/$target"/* "$corpus/" 2>/dev/null || true
  log="$scratch/run-$target.log"
  "$scratch/debug/$target" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" >"$log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' | grep -o '[0-9]*$')
  features=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'ft: [0-9]*' | grep -o '[0-9]*$')
  if [ $status -eq 0 ]; then
    echo "$target: ok, ${runs:-?} executions in ${seconds} s, coverage ${cov:-?} edges, ${features:-?} features, corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "$target: FAILED (exit $status) after ${runs:-?} executions; reproducer in $artifacts, log in $log"
    grep -E 'ERROR|SUMMARY|Fatal|deadly signal|timeout|out-of-memory' "$log" | head -5
    failed=1
  fi
done
exit $failed
