#!/usr/bin/env bash
# mpi.sh — data-parallel training and evaluation over MPI (docs/mpi.md), through mpirun:
#   - one SGD step with R = 2 ranks × 1 thread equals R = 1 × 2 threads on the same global batch
#     (bit for bit: both sum two partial gradient sums, and IEEE addition of two floats is
#     commutative), and with R = 4 × 1 it agrees with R = 1 × 4 within float rounding:
#     |Δw| ≤ 4 ulp(w) + lr · 4 · 2⁻²⁴ · max|g| (the order of four partial sums differs);
#   - a 6,400-image LeNet run (T = 16 instead of 100 to fit the suite's time) with R = 2 × 1
#     ends within 0.2 points of test accuracy of R = 1 × 2;
#   - two runs with the same R are bit-identical; every epoch prints the weights CRC-32 that
#     all ranks agreed on (sbp_comm_check_weights), and it matches the saved model's;
#   - resume under MPI after a SIGKILL of the whole job (mpirun and every rank) and after
#     SIGTERM (saved once, by rank 0) ends bit-identical to the uninterrupted run;
#   - a rank killed mid-run ends the job with a message naming it, and rank 0's last
#     checkpoint stays intact (the run resumes from it to the same weights);
#   - ranks started with different options fail at once, naming the rank and the option; a
#     global batch that does not divide among the ranks is refused;
#   - `eval` with R = 2 gives exactly the single-process result.
# Exits 77 (ctest: skipped) when this build has no MPI or mpirun is missing.
set -uo pipefail
NAME=mpi
source "$(dirname "$0")/common.bash"

if ! "$SBP_CLI" --version | grep -q '^MPI: yes'; then
    echo "mpi: SKIPPED — this build has no MPI (install libopenmpi-dev openmpi-bin, reconfigure)"
    exit 77
fi
if ! command -v mpirun >/dev/null; then
    echo "mpi: SKIPPED — mpirun is not on PATH (install openmpi-bin)"
    exit 77
fi
# Root in CI, 2 cores: --allow-run-as-root and --oversubscribe; --bind-to none so that a rank's
# OpenMP threads are not all bound to one core.
# In the sanitizer build, LeakSanitizer would report Open MPI's own allocations at MPI_Finalize
# (its plugins are unloaded by then, so they cannot even be named or suppressed): leak checks
# are off for the ranks only — AddressSanitizer's other checks stay on, and spikebp's code on
# these paths is leak-checked by test_comm (the same trainer and evaluation over an in-process
# communicator).
asan=${ASAN_OPTIONS:-}
MPIRUN=(env "ASAN_OPTIONS=${asan:+$asan:}detect_leaks=0"
        mpirun --allow-run-as-root --oversubscribe --bind-to none)
export OMPI_MCA_btl_vader_single_copy_mechanism=none # containers without CMA (ptrace) rights

crc() { "$SBP_CLI" info --model "$1" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["weights_crc32"])'; }
small=(--net 28x28x1-8C5-P2-16C5-P2-10 --data mnist --test-limit 200 -T 8 --seed 7 --quiet)

# ---- one SGD step: R ranks × 1 thread against 1 process × R threads, same global batch
for R in 2 4; do
    "$SBP_CLI" train "${small[@]}" --train-limit 32 --batch 32 --epochs 1 --threads $R \
        --save "$WORK/step-t$R.sbp" >/dev/null 2>"$WORK/err" || fail "one step, 1 × $R threads: $(cat "$WORK/err")"
    run "${MPIRUN[@]}" -np $R "$SBP_CLI" train "${small[@]}" --train-limit 32 --batch 32 --epochs 1 \
        --threads 1 --save "$WORK/step-r$R.sbp"
    expect_rc 0 "one step, $R ranks × 1 thread"
    "$SBP_CLI" export --model "$WORK/step-t$R.sbp" --npz "$WORK/step-t$R.npz" >/dev/null
    "$SBP_CLI" export --model "$WORK/step-r$R.sbp" --npz "$WORK/step-r$R.npz" >/dev/null
done
"$SBP_CLI" train "${small[@]}" --train-limit 32 --batch 32 --epochs 1 --lr 1e-12 --threads 1 \
    --save "$WORK/init.sbp" >/dev/null 2>&1 # the initial weights (a step of lr 1e-12 leaves float weights as drawn)
"$SBP_CLI" export --model "$WORK/init.sbp" --npz "$WORK/init.npz" >/dev/null
[[ $(crc "$WORK/step-r2.sbp") == $(crc "$WORK/step-t2.sbp") ]] && pass \
    || fail "one step: 2 ranks × 1 thread differ from 1 × 2 threads (expected bit-identical)"
check "one step: 4 ranks × 1 thread within float rounding of 1 × 4 threads" \
    "$PY" - "$WORK/step-r4.npz" "$WORK/step-t4.npz" "$WORK/init.npz" <<'EOF'
import sys, numpy as np
a, b, w0 = (np.load(f) for f in sys.argv[1:4])
lr, wd, R = 0.0085, 5e-4, 4
worst = 0.0
for k in a.files:
    x, y, w = a[k].astype(np.float64), b[k].astype(np.float64), w0[k].astype(np.float64)
    g = -(y - w) / lr - wd * w  # the step's gradient, from the weights before and after it
    bound = 4 * np.spacing(np.abs(b[k])).astype(np.float64) + lr * R * 2.0**-24 * np.abs(g).max()
    worst = max(worst, float((np.abs(x - y) / bound).max()))
    if not (np.abs(x - y) <= bound).all():
        print(f"{k}: max |Δw| {np.abs(x - y).max():.3g} exceeds the bound", file=sys.stderr)
        sys.exit(1)
print(f"one step, 4 ranks vs 4 threads: largest |Δw| / bound = {worst:.3g}")
EOF

# ---- LeNet on 6,400 images: R = 2 × 1 against R = 1 × 2, within 0.2 points
lenet=(--net lenet --data mnist --train-limit 6400 --test-limit 1000 -T 16 --batch 64 --epochs 1
       --seed 3 --quiet --json)
run "$SBP_CLI" train "${lenet[@]}" --threads 2 --save "$WORK/lenet-t2.sbp"
expect_rc 0 "LeNet, 1 process × 2 threads"
acc1=$(json test_accuracy)
run "${MPIRUN[@]}" -np 2 "$SBP_CLI" train "${lenet[@]}" --threads 1 --save "$WORK/lenet-r2.sbp"
expect_rc 0 "LeNet, 2 ranks × 1 thread"
acc2=$(json test_accuracy)
check "LeNet 6,400 images: test accuracy $acc2 (2 ranks) within 0.2 points of $acc1 (2 threads)" \
    "$PY" -c "import sys; sys.exit(0 if abs($acc2 - $acc1) <= 0.002 else 1)"
echo "LeNet 6,400 images, T = 16: test accuracy $acc1 (1 × 2 threads), $acc2 (2 ranks × 1);" \
     "weights $(crc "$WORK/lenet-t2.sbp") / $(crc "$WORK/lenet-r2.sbp")"

# ---- two runs with the same R are bit-identical; the ranks agree after every epoch
args=("${small[@]}" --train-limit 1920 --batch 32 --epochs 3 --threads 1 --checkpoint-every 3)
run "${MPIRUN[@]}" -np 2 "$SBP_CLI" train "${args[@]}" --save "$WORK/ref.sbp"
expect_rc 0 "2 ranks, reference run"
ref=$(crc "$WORK/ref.sbp")
lines=$(grep -c 'identical on all 2 ranks' <<<"$OUT")
[[ $lines == 3 ]] && pass || fail "expected 3 per-epoch weight checks across ranks, got $lines: ${OUT:0:300}"
contains "$OUT" "epoch 3/3  weights CRC-32 $ref identical on all 2 ranks" "last epoch's agreed CRC is the model's"
rows=$(($(wc -l <"$WORK/ref.sbp.log.csv") - 1))
[[ $rows == 3 ]] && pass || fail "rank 0 alone writes the log: $rows rows, expected 3"
run "${MPIRUN[@]}" -np 2 "$SBP_CLI" train "${args[@]}" --save "$WORK/again.sbp"
[[ $(crc "$WORK/again.sbp") == "$ref" ]] && pass || fail "two runs with 2 ranks differ"
[[ -z $ERR ]] && pass || fail "a successful run is silent on stderr with --quiet: ${ERR:0:300}"

# ---- SIGKILL of the whole job (mpirun and every rank), then resume under MPI
# kill_job PID: SIGKILL to mpirun and to its children (the ranks, each in its own process group).
kill_job() {
    local kids
    kids=$(pgrep -P "$1" || true)
    kill -9 "$1" $kids 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
wait_ckpt() { # wait_ckpt DIR PID — until DIR has a checkpoint (or the job ended)
    for _ in $(seq 1 600); do
        ls "$1"/ckpt-*.sbp >/dev/null 2>&1 && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
"${MPIRUN[@]}" -np 2 "$SBP_CLI" train "${args[@]}" --save "$WORK/k.sbp" --checkpoint-dir "$WORK/ck" \
    >/dev/null 2>&1 &
pid=$!
wait_ckpt "$WORK/ck" $pid
sleep 0.5
kill_job $pid
ls "$WORK/ck"/ckpt-*.sbp >/dev/null 2>&1 && pass || fail "no checkpoint before the SIGKILL"
run "${MPIRUN[@]}" -np 2 "$SBP_CLI" train --resume "$WORK/ck" --quiet
expect_rc 0 "resume under MPI after SIGKILL of the job"
[[ $(crc "$WORK/k.sbp") == "$ref" ]] && pass \
    || fail "resumed after SIGKILL: weights $(crc "$WORK/k.sbp"), uninterrupted $ref"
rows=$(($(wc -l <"$WORK/k.sbp.log.csv") - 1))
[[ $rows == 3 ]] && pass || fail "log after SIGKILL + resume: $rows rows, expected 3"

# ---- SIGTERM to mpirun: every rank stops after the same batch, rank 0 saves once
"${MPIRUN[@]}" -np 2 "$SBP_CLI" train "${args[@]}" --save "$WORK/t.sbp" --checkpoint-dir "$WORK/ck2" \
    >/dev/null 2>"$WORK/term.err" &
pid=$!
wait_ckpt "$WORK/ck2" $pid
kill -TERM $pid 2>/dev/null
wait $pid
if grep -q 'terminated at epoch' "$WORK/term.err"; then
    n=$(grep -c 'state saved' "$WORK/term.err")
    [[ $n == 1 ]] && pass || fail "SIGTERM: $n 'state saved' messages, expected 1 (rank 0 only)"
    run "${MPIRUN[@]}" -np 2 "$SBP_CLI" train --resume "$WORK/ck2" --quiet
    expect_rc 0 "resume under MPI after SIGTERM"
    [[ $(crc "$WORK/t.sbp") == "$ref" ]] && pass || fail "resumed after SIGTERM: weights differ"
else
    pass; pass; pass # finished or stopped between epochs before the signal landed mid-epoch
fi

# ---- a rank killed mid-run: the job ends naming it; rank 0's checkpoint stays intact
"${MPIRUN[@]}" -np 2 "$SBP_CLI" train "${args[@]}" --save "$WORK/d.sbp" --checkpoint-dir "$WORK/ck3" \
    >/dev/null 2>"$WORK/dead.err" &
pid=$!
wait_ckpt "$WORK/ck3" $pid
victim=""
for k in $(pgrep -P $pid); do
    tr '\0' '\n' </proc/$k/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$k
done
if [[ -n $victim ]]; then
    kill -9 "$victim"
    wait $pid
    st=$?
    [[ $st != 0 ]] && pass || fail "a killed rank: mpirun exited 0"
    grep -Eq 'rank 1 .*(exited on signal 9|Killed)' "$WORK/dead.err" && pass \
        || fail "a killed rank: no message naming rank 1: $(head -c 400 "$WORK/dead.err")"
    run "${MPIRUN[@]}" -np 2 "$SBP_CLI" train --resume "$WORK/ck3" --quiet
    expect_rc 0 "resume from rank 0's checkpoint after a rank died"
    [[ $(crc "$WORK/d.sbp") == "$ref" ]] && pass || fail "resumed after a dead rank: weights differ"
else
    fail "could not find rank 1's process under mpirun $pid"
    kill_job $pid
fi

# ---- ranks that disagree, a batch that does not divide
run "${MPIRUN[@]}" -np 1 "$SBP_CLI" train "${small[@]}" --train-limit 64 --batch 32 --save "$WORK/x.sbp" \
    : -np 1 "$SBP_CLI" train "${small[@]}" --train-limit 64 --batch 32 --seed 8 --save "$WORK/x.sbp"
[[ $RC != 0 ]] && pass || fail "ranks with different seeds ran"
contains "$ERR" "rank 1 of 2 differs from rank 0 in seed" "disagreeing ranks are named"
run "${MPIRUN[@]}" -np 2 "$SBP_CLI" train "${small[@]}" --train-limit 64 --batch 33 --save "$WORK/x.sbp"
[[ $RC != 0 ]] && pass || fail "batch 33 on 2 ranks ran"
contains "$ERR" "does not divide among 2 ranks" "indivisible global batch"

# ---- eval: the images split over the ranks, the single-process result exactly
run "$SBP_CLI" eval --model "$WORK/ref.sbp" --limit 500 --quiet --json --threads 1
one=$(jexpr '(d["correct"], d["loss"])')
run "${MPIRUN[@]}" -np 2 "$SBP_CLI" eval --model "$WORK/ref.sbp" --limit 500 --quiet --json --threads 1
expect_rc 0 "eval on 2 ranks"
two=$(jexpr '(d["correct"], d["loss"])')
[[ $one == "$two" && $one != "(no json"* ]] && pass || fail "eval: 1 process $one, 2 ranks $two"
n=$(grep -c '"command":"eval"' <<<"$OUT")
[[ $n == 1 ]] && pass || fail "eval on 2 ranks printed $n results, expected 1 (rank 0 only)"

# ---- analyze: the images split over the ranks, the counts summed: the same figures and files
run "$SBP_CLI" analyze --model "$WORK/ref.sbp" --images 300 --quiet --json --threads 1 \
    --csv "$WORK/an1.csv" --steps-csv "$WORK/an1.steps.csv"
expect_rc 0 "analyze, one process"
one=$(jexpr 'json.dumps({k: v for k, v in d.items() if "csv" not in k}, sort_keys=True)' 2>/dev/null || echo "(no json)")
run "${MPIRUN[@]}" -np 2 "$SBP_CLI" analyze --model "$WORK/ref.sbp" --images 300 --quiet --json \
    --threads 1 --csv "$WORK/an2.csv" --steps-csv "$WORK/an2.steps.csv"
expect_rc 0 "analyze on 2 ranks"
two=$(jexpr 'json.dumps({k: v for k, v in d.items() if "csv" not in k}, sort_keys=True)' 2>/dev/null || echo "(no json)")
[[ $one == "$two" && $one != "(no json"* ]] && pass || fail "analyze: 1 process $one, 2 ranks $two"
check "analyze on 2 ranks writes the one-process layer CSV" cmp -s "$WORK/an1.csv" "$WORK/an2.csv"
check "analyze on 2 ranks writes the one-process accuracy-by-steps CSV" \
    cmp -s "$WORK/an1.steps.csv" "$WORK/an2.steps.csv"

finish
