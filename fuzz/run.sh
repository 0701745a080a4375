#!/usr/bin/env bash
# fuzz/run.sh — runs each fuzz target (built by fuzz/build.sh) for a given time, one after
# another, at low priority, and prints executions, seconds and crashes per target.
#
#   fuzz/run.sh 60                 every target 60 s
#   fuzz/run.sh 300 model npy      only these targets
#   FUZZ_ARGS='-jobs=2' fuzz/run.sh 60   extra libFuzzer options
#
# Seeds: fuzz/corpus/NAME and fuzz/regressions/NAME (read only). New inputs the fuzzer finds
# go to fuzz/build/learned/NAME (kept between runs, not committed); crashes, leaks, timeouts and
# out-of-memory inputs to fuzz/artifacts/NAME/ (crash-*, leak-*, timeout-*, oom-*). Leaks
# inside third-party libraries listed in fuzz/lsan.supp are not reported. To keep a
# finding: minimise it (fuzz/build/fuzz_NAME -minimize_crash=1 -runs=10000 FILE), copy it into
# fuzz/regressions/NAME/, fix the bug, rerun. Exit status: 0 if no target found anything.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for t in fuzz/fuzz_*.c; do targets+=("$(basename "$t" .c | sed 's/^fuzz_//')"); done
fi
mkdir -p fuzz/build/logs
status=0
printf '%-9s %12s %8s %8s  %s\n' target executions seconds crashes note
for name in "${targets[@]}"; do
  bin=fuzz/build/fuzz_$name
  if [ ! -x "$bin" ]; then
    printf '%-9s %12s %8s %8s  %s\n' "$name" - - - "not built (fuzz/build.sh)"
    status=1
    continue
  fi
  work=fuzz/build/learned/$name art=fuzz/artifacts/$name
  mkdir -p "$work" "$art"
  seeds=(fuzz/corpus/$name)
  [ -d fuzz/regressions/$name ] && seeds+=(fuzz/regressions/$name)
  dict=()
  [ -f fuzz/dict/$name.dict ] && dict=(-dict=fuzz/dict/$name.dict)
  before=$(ls "$art" | wc -l)
  log=fuzz/build/logs/$name.log
  start=$(date +%s)
  # -rss_limit_mb also caps single allocations: a loader that allocates 2 GB because a
  # 40-byte header says so is a finding. HDF5 (through libmatio) prints its error stack to
  # stderr; the log keeps it.
  LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
  nice -n 10 "$bin" "$work" "${seeds[@]}" "${dict[@]}" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$art/" \
    ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  end=$(date +%s)
  execs=$(grep -a 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
  found=$(( $(ls "$art" | wc -l) - before ))
  note=""
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    note=$(grep -a -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz_[a-z]+: ' "$log" | cut -c1-90)
    note="rc $rc: ${note:-see $log}"
  fi
  printf '%-9s %12s %8s %8s  %s\n' "$name" "${execs:-?}" "$((end - start))" "$found" "$note"
done
exit $status
