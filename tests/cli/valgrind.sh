#!/usr/bin/env bash
# valgrind.sh — a short train and eval under valgrind's memcheck: no invalid access, no leak.
# (Registered only in the plain build; the sanitizer build checks leaks with LeakSanitizer.)
set -euo pipefail
: "${SBP_CLI:?SBP_CLI must point to the spikebp binary}"
command -v valgrind >/dev/null || { echo "valgrind: not installed (scripts/install-deps installs it)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99
    --suppressions="$(dirname "$0")/../valgrind.supp")
run() {
  local name=$1; shift
  if OMP_NUM_THREADS=1 "${vg[@]}" "$SBP_CLI" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); echo "FAIL: $name under valgrind:" >&2; tail -30 "$work/$name.err" >&2
  fi
}
run train train --net 28x28x1-4C5-P2-8C3/2-10 --data mnist --train-limit 48 --test-limit 16 \
  -T 4 --batch 16 --threads 1 --quiet --save "$work/m.sbp" --checkpoint-dir "$work/ck" \
  --checkpoint-every 1
run train-aggregate train --net 28x28x1-4C5-P2-16FC-10 --data mnist --train-limit 32 \
  --test-limit 16 -T 4 --batch 16 --threads 1 --backward aggregate --quiet --save "$work/a.sbp"
run eval eval --model "$work/m.sbp" --limit 16 --threads 1 --quiet
run info info --model "$work/m.sbp" --json
echo "valgrind: $pass passed, $fail failed"
[ $fail = 0 ]
