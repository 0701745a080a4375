#!/usr/bin/env bash
# resume.sh — a training run killed with SIGKILL at 20 random instants and resumed from its
# checkpoints each time ends with weights bit-identical to an uninterrupted run (same seed and
# thread count). Also: SIGTERM saves and exits with 143, a resumed run rejects changed options,
# and the CSV log has exactly one row per epoch after all the kills.
set -euo pipefail
: "${SBP_CLI:?SBP_CLI must point to the spikebp binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
crc() { "$SBP_CLI" info --model "$1" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["weights_crc32"])'; }

args=(train --net 28x28x1-8C5-P2-16C5-P2-10 --data mnist --train-limit 960 --test-limit 100
      -T 8 --batch 32 --epochs 3 --threads 2 --seed 7 --quiet --checkpoint-every 3)

"$SBP_CLI" "${args[@]}" --save "$work/ref.sbp" --checkpoint-dir "$work/ref-ck" >/dev/null
ref=$(crc "$work/ref.sbp")

# 20 kills at random instants: start (or resume) the run, SIGKILL it after a random delay.
RANDOM=12345
kills=0 starts=0
while [ $kills -lt 20 ]; do
  if ls "$work/ck"/ckpt-*.sbp >/dev/null 2>&1; then
    cmd=("$SBP_CLI" train --resume "$work/ck" --quiet)
  else
    cmd=("$SBP_CLI" "${args[@]}" --save "$work/run.sbp" --checkpoint-dir "$work/ck")
  fi
  "${cmd[@]}" >/dev/null 2>&1 &
  pid=$!
  starts=$((starts + 1))
  sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
  else
    wait "$pid" || true
    # finished before the kill: start the whole series again so that all 20 kills land mid-run
    rm -rf "$work/ck" "$work/run.sbp" "$work/run.sbp.log.csv"
  fi
done
# resume until done
if ls "$work/ck"/ckpt-*.sbp >/dev/null 2>&1; then
  "$SBP_CLI" train --resume "$work/ck" --quiet >/dev/null && ok || bad "final resume failed"
else
  "$SBP_CLI" "${args[@]}" --save "$work/run.sbp" --checkpoint-dir "$work/ck" >/dev/null && ok || bad "final run failed"
fi
got=$(crc "$work/run.sbp")
[ "$got" = "$ref" ] && ok || bad "weights after 20 kills ($got) differ from the uninterrupted run ($ref)"
rows=$(($(wc -l < "$work/run.sbp.log.csv") - 1))
[ "$rows" = 3 ] && ok || bad "log has $rows epoch rows after resumes, expected 3"
cmp -s <(cut -d, -f1-6 "$work/run.sbp.log.csv") <(cut -d, -f1-6 "$work/ref.sbp.log.csv") && ok \
  || bad "log rows (loss, accuracies) differ from the uninterrupted run"
echo "resume: $kills kills over $starts starts, weights $got (reference $ref)"

# SIGTERM: saves the state and exits 143; the resumed run still matches.
rm -rf "$work/ck2"
"$SBP_CLI" "${args[@]}" --save "$work/t.sbp" --checkpoint-dir "$work/ck2" >/dev/null 2>"$work/term.err" &
pid=$!
# wait for its first checkpoint (the machine may be slow), then signal it
for _ in $(seq 1 300); do
  ls "$work/ck2"/ckpt-*.sbp >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -TERM "$pid" 2>/dev/null || true
set +e; wait "$pid"; st=$?; set -e
if [ $st = 143 ]; then ok; grep -q "resume" "$work/term.err" && ok || bad "no resume hint after SIGTERM"
elif [ $st = 0 ]; then ok; ok  # finished before the signal: nothing to check
else bad "SIGTERM exit status $st, expected 143"; fi
if ls "$work/ck2"/ckpt-*.sbp >/dev/null 2>&1 && [ $st = 143 ]; then
  "$SBP_CLI" train --resume "$work/ck2" --quiet >/dev/null && ok || bad "resume after SIGTERM"
  [ "$(crc "$work/t.sbp")" = "$ref" ] && ok || bad "weights after SIGTERM + resume differ"
fi

# --resume rejects options that would change the run.
set +e; "$SBP_CLI" train --resume "$work/ck" --lr 0.1 >/dev/null 2>&1; st=$?; set -e
[ $st = 2 ] && ok || bad "--resume with --lr: exit $st, expected 2"
# A corrupted newest checkpoint is skipped with a message, the previous one is used.
newest=$(ls "$work/ref-ck"/ckpt-*.sbp | tail -1)
printf 'garbage' | dd of="$newest" bs=1 seek=100 conv=notrunc 2>/dev/null
set +e; out=$("$SBP_CLI" train --resume "$work/ref-ck" --quiet 2>&1 >/dev/null); st=$?; set -e
echo "$out" | grep -q "skipping .*CRC" && ok || bad "corrupted checkpoint not reported: $out"
[ $st = 0 ] && ok || bad "resume past a corrupted checkpoint failed ($st)"

echo "resume: $pass passed, $fail failed"
[ $fail = 0 ]
