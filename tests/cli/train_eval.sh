#!/usr/bin/env bash
# tests/cli/train_eval.sh — the spikebp tool end to end, on real MNIST (scripts/get-data):
#
#   - usage: --help of the tool and of each command, exit code 2 for usage errors;
#   - info: LeNet's 517 500 parameters by name and by notation, malformed notations;
#   - train → eval: a short LeNet run saves a model whose `eval` on the same test images gives
#     exactly the accuracy the trainer reported (same images, same encoding seed), above chance;
#     the per-epoch CSV log;
#   - reproducibility: same seed and thread count → byte-identical model files;
#   - failures: a truncated model, a missing model, an unknown data set, an output path under a
#     regular file (a missing output folder is made);
#   - the aggregate backward mode saves a model that evaluates.
#
# ctest runs it with SBP_CLI = the spikebp binary. Kept small (T ≤ 20, a few hundred images):
# about half a minute on two busy cores. Prints "cli: N passed, M failed"; exits 1 on any failure.
set -euo pipefail

NAME=cli
. "$(dirname "$0")/common.bash"

t_start=$SECONDS

# ------------------------------------------------------------------ usage
run "$SBP_CLI" --help
expect_rc 0 "spikebp --help"
contains "$OUT" "usage: spikebp" "spikebp --help"
for cmd in train eval info; do
    run "$SBP_CLI" "$cmd" --help
    expect_rc 0 "spikebp $cmd --help"
    contains "$OUT" "usage: spikebp $cmd" "spikebp $cmd --help"
done
run "$SBP_CLI" help eval
expect_rc 0 "spikebp help eval"
contains "$OUT" "usage: spikebp eval" "spikebp help eval"
run "$SBP_CLI" --version
expect_rc 0 "spikebp --version"
contains "$OUT" "spikebp " "spikebp --version"
contains "$OUT" "BLAS: OpenBLAS " "spikebp --version names the BLAS kernels"
# OpenBLAS 0.3.21 falls back to its generic SSE3 kernels ("Prescott") on CPUs it does not know
# (an Emerald Rapids Xeon): on a CPU with AVX2 and FMA the tool must not run with them unless
# the user asked for them, and a user's OPENBLAS_CORETYPE is left as it is.
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
if [[ -z ${OPENBLAS_CORETYPE:-} && " $flags " == *" avx2 "* && " $flags " == *" fma "* ]]; then
    blas=$(grep '^BLAS:' <<<"$OUT" || true)
    if [[ $blas == *'Prescott kernels'* ]]; then
        fail "the generic OpenBLAS kernels on an AVX2 CPU: $blas"
    else
        pass
    fi
fi
run env OPENBLAS_CORETYPE=Prescott "$SBP_CLI" --version
contains "$OUT" "BLAS: OpenBLAS Prescott kernels" "OPENBLAS_CORETYPE set by the user is kept"
run "$SBP_CLI"
expect_rc 2 "spikebp without a command"
run "$SBP_CLI" frobnicate
expect_rc 2 "unknown command"
contains "$ERR" "frobnicate" "unknown command message"
for cmd in train eval info; do
    run "$SBP_CLI" "$cmd" --no-such-option
    expect_rc 2 "spikebp $cmd --no-such-option"
done
run "$SBP_CLI" train --net lenet --train-limit 10
expect_rc 2 "train without --save"
contains "$ERR" "--save" "train without --save message"
run "$SBP_CLI" train --epochs x --save "$WORK/x.sbp"
expect_rc 2 "train --epochs x"
contains "$ERR" "--epochs" "train --epochs x message"
run "$SBP_CLI" train -T 0 --save "$WORK/x.sbp"
expect_rc 2 "train -T 0"
contains "$ERR" "--timesteps" "train -T 0 message"
run "$SBP_CLI" train --backward sideways --save "$WORK/x.sbp"
expect_rc 2 "train --backward sideways"
contains "$ERR" "--backward" "train --backward sideways message"
run "$SBP_CLI" eval --limit -3 --model "$WORK/x.sbp"
expect_rc 2 "eval --limit -3"
contains "$ERR" "--limit" "eval --limit -3 message"
run "$SBP_CLI" eval --json
expect_rc 2 "eval without --model"
check "usage errors create no file" test ! -e "$WORK/x.sbp"

# ------------------------------------------------------------------ info
run "$SBP_CLI" info --net lenet --json
expect_rc 0 "info --net lenet --json"
check "info lenet: parameters $(json parameters), expected 517500" \
    test "$(json parameters)" = 517500
check "info lenet: notation '$(json notation)'" \
    test "$(json notation)" = "28x28x1-20C5-P2-50C5-P2-200FC-10"
run "$SBP_CLI" info --net 28x28x1-20C5-P2-50C5-P2-200FC-10 --json
expect_rc 0 "info --net <lenet notation> --json"
check "info <lenet notation>: parameters $(json parameters), expected 517500" \
    test "$(json parameters)" = 517500
run "$SBP_CLI" info --net lenet
expect_rc 0 "info --net lenet (table)"
contains "$OUT" "total parameters: 517500" "info table"
run "$SBP_CLI" info --net 28x28x1-20C5-P3-10
check "info with a malformed notation exits non-zero" test "$RC" -ne 0
contains "$ERR" "P3" "malformed notation message"
run "$SBP_CLI" info --net 28x28x1-20C5
check "info with a notation lacking the output layer exits non-zero" test "$RC" -ne 0
contains "$ERR" "notation" "notation without output message"
run "$SBP_CLI" info --net resnet9000
check "info with an unknown network name exits non-zero" test "$RC" -ne 0
contains "$ERR" "resnet9000" "unknown network message"

# ------------------------------------------------------------------ train → eval
M="$WORK/m.sbp"
run "$SBP_CLI" train --net lenet --data mnist --train-limit 320 --test-limit 300 -T 20 \
    --batch 32 --epochs 2 --save "$M" --json --quiet
expect_rc 0 "train lenet (320 images, T 20, 2 epochs)"
if [[ $RC != 0 ]]; then
    echo "cli: training failed — is MNIST cached? (scripts/get-data mnist)" >&2
fi
train_acc=$(json test_accuracy)
train_correct=$(json test_correct)
check "train: test_images $(json test_images), expected 300" test "$(json test_images)" = 300
check "train: train_images $(json train_images), expected 320" test "$(json train_images)" = 320
check "train: epochs $(json epochs), timesteps $(json timesteps)" \
    test "$(json epochs)/$(json timesteps)" = 2/20
check "train: test accuracy $train_acc is not above chance (0.2)" greater "$train_acc" 0.2
check "train --quiet wrote to stderr: ${ERR:0:200}" test -z "$ERR"
check "train: the model file $M exists" test -s "$M"
check "train: no temporary file left next to the model" \
    test -z "$(find "$WORK" -name '*.tmp.*' -print -quit)"

LOG="$M.log.csv"
check "train: the log $LOG exists" test -s "$LOG"
if [[ -s $LOG ]]; then
    check "log header: $(head -n 1 "$LOG")" \
        test "$(head -n 1 "$LOG" | cut -d, -f1,6)" = "epoch,test_accuracy"
    check "log has $(($(wc -l <"$LOG") - 1)) rows, expected 2 (one per epoch)" \
        test "$(wc -l <"$LOG")" -eq 3
    check "log rows are epochs 1 and 2" \
        test "$(tail -n +2 "$LOG" | cut -d, -f1 | tr '\n' ' ')" = "1 2 "
    check "log: every row has 8 fields" \
        test "$(awk -F, 'NF != 8' "$LOG" | wc -l)" -eq 0
    log_acc=$(tail -n 1 "$LOG" | cut -d, -f6)
    check "log: last test_accuracy $log_acc differs from the JSON's $train_acc" \
        same_number "$log_acc" "$train_acc"
fi

run "$SBP_CLI" info --model "$M" --json
expect_rc 0 "info --model"
check "info --model: parameters $(json parameters)" test "$(json parameters)" = 517500

run "$SBP_CLI" eval --model "$M" --data mnist --limit 300 --json --quiet
expect_rc 0 "eval of the trained model"
eval_acc=$(json accuracy)
check "eval: images $(json images), expected 300" test "$(json images)" = 300
check "eval: timesteps $(json timesteps), expected the model's 20" test "$(json timesteps)" = 20
check "eval accuracy $eval_acc != the trainer's test accuracy $train_acc" \
    same_number "$eval_acc" "$train_acc"
check "eval correct $(json correct) != the trainer's $train_correct" \
    test "$(json correct)" = "$train_correct"

# explicit -T 20, and the data set taken from the model's metadata
run "$SBP_CLI" eval --model "$M" -T 20 --limit 300 --json --quiet
expect_rc 0 "eval -T 20 without --data"
check "eval -T 20: data '$(json data)', expected mnist from the model" test "$(json data)" = mnist
check "eval -T 20: accuracy $(json accuracy) != $eval_acc" same_number "$(json accuracy)" "$eval_acc"

run "$SBP_CLI" eval --model "$M" -T 4 --limit 50 --json --quiet
expect_rc 0 "eval -T 4"
check "eval -T 4: timesteps $(json timesteps), images $(json images)" \
    test "$(json timesteps)/$(json images)" = 4/50

run "$SBP_CLI" eval --model "$M" --limit 20
expect_rc 0 "eval without --json"
contains "$OUT" "accuracy" "eval text output"

# ------------------------------------------------------------------ reproducibility
small=(train --net lenet --data mnist --train-limit 64 --test-limit 32 -T 6 --batch 32
       --threads 2 --quiet)
run "$SBP_CLI" "${small[@]}" --seed 5 --save "$WORK/r1.sbp"
expect_rc 0 "reproducibility run 1"
run "$SBP_CLI" "${small[@]}" --seed 5 --save "$WORK/r2.sbp"
expect_rc 0 "reproducibility run 2"
run "$SBP_CLI" "${small[@]}" --seed 6 --save "$WORK/r3.sbp"
expect_rc 0 "reproducibility run 3 (other seed)"
check "same seed and threads: model files differ" cmp -s "$WORK/r1.sbp" "$WORK/r2.sbp"
if cmp -s "$WORK/r1.sbp" "$WORK/r3.sbp"; then
    fail "--seed 5 and --seed 6 wrote identical model files"
else
    pass
fi

# ------------------------------------------------------------------ failures
head -c 100 "$M" >"$WORK/cut.sbp"
run "$SBP_CLI" eval --model "$WORK/cut.sbp" --data mnist --limit 10 --quiet
expect_rc 1 "eval of a truncated model"
contains "$ERR" "$WORK/cut.sbp" "truncated model message"
run "$SBP_CLI" info --model "$WORK/cut.sbp"
expect_rc 1 "info of a truncated model"
run "$SBP_CLI" eval --model "$WORK/missing.sbp" --data mnist --quiet
expect_rc 1 "eval of a missing model"
contains "$ERR" "$WORK/missing.sbp" "missing model message"
run "$SBP_CLI" eval --model "$M" --data nosuchset --quiet
check "eval --data nosuchset exits non-zero" test "$RC" -ne 0
contains "$ERR" "nosuchset" "unknown data set message"
run "$SBP_CLI" train --data nosuchset --train-limit 10 --save "$WORK/n.sbp" --quiet
check "train --data nosuchset exits non-zero" test "$RC" -ne 0
contains "$ERR" "nosuchset" "train unknown data set message"
check "a failed train writes no model" test ! -e "$WORK/n.sbp"
run "$SBP_CLI" train --train-limit 10 --test-limit 10 --save "$WORK/new/folder/m.sbp" --quiet -T 2
expect_rc 0 "train into a folder that does not exist yet (made like mkdir -p)"
check "model saved in the new folder" test -s "$WORK/new/folder/m.sbp"
check "log written in the new folder" test -s "$WORK/new/folder/m.sbp.log.csv"
: >"$WORK/plainfile"
run "$SBP_CLI" train --train-limit 10 --save "$WORK/plainfile/m.sbp" --quiet -T 2
expect_rc 1 "train into a path under a regular file"
contains "$ERR" "$WORK/plainfile: exists and is not a folder" "not-a-folder message"

# ------------------------------------------------------------------ aggregate backward
A="$WORK/agg.sbp"
run "$SBP_CLI" train --net lenet --data mnist --train-limit 128 --test-limit 100 -T 10 \
    --batch 32 --backward aggregate --save "$A" --json --quiet
expect_rc 0 "train --backward aggregate"
agg_acc=$(json test_accuracy)
check "aggregate: backward '$(json backward)'" test "$(json backward)" = aggregate
check "aggregate: model saved" test -s "$A"
run "$SBP_CLI" eval --model "$A" --limit 100 --json --quiet
expect_rc 0 "eval of the aggregate model"
check "aggregate: eval accuracy $(json accuracy) != trainer's $agg_acc" \
    same_number "$(json accuracy)" "$agg_acc"
check "aggregate: eval timesteps $(json timesteps), expected 10" test "$(json timesteps)" = 10

echo "cli: elapsed $((SECONDS - t_start)) s" >&2
finish
