#!/usr/bin/env bash
# backend.sh — choosing the backend on the command line: `--backend reference` trains and
# evaluates, a run interrupted on the reference backend resumes on it (the checkpoint records
# the backend) to weights bit-identical with the uninterrupted run, cpu and reference evaluate a
# model to the same accuracy, and an unknown or unavailable backend is a usage error naming why.
NAME=backend
source "$(dirname "$0")/common.bash"

crc() { "$SBP_CLI" info --model "$1" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["weights_crc32"])'; }
args=(train --net 28x28x1-6C5-P2-20FC-10 --data mnist --train-limit 64 --test-limit 64 -T 8
      --batch 16 --epochs 2 --threads 1 --seed 3 --quiet)

run "$SBP_CLI" "${args[@]}" --backend reference --save "$WORK/full.sbp" \
    --checkpoint-dir "$WORK/ck" --checkpoint-every 2
expect_rc 0 "train --backend reference"
check "the checkpoint records the backend" grep -q reference "$WORK/ck/ckpt-000001-00000002.sbp"

# Resume from the middle of epoch 1 (batch 2 of 4): the same weights as the whole run.
mkdir -p "$WORK/part"
cp "$WORK/ck/ckpt-000001-00000002.sbp" "$WORK/part/"
cp "$WORK/full.sbp" "$WORK/full-kept.sbp"
run "$SBP_CLI" train --resume "$WORK/part" --quiet
expect_rc 0 "resume of a reference-backend run"
same=$( [ "$(crc "$WORK/full.sbp")" = "$(crc "$WORK/full-kept.sbp")" ] && echo yes || echo no)
check "resumed reference run is bit-identical to the uninterrupted one" [ "$same" = yes ]

# The same run on cpu ends elsewhere only by rounding; both evaluate a model alike.
run "$SBP_CLI" eval --model "$WORK/full-kept.sbp" --limit 200 --threads 1 --quiet --json
expect_rc 0 "eval on cpu"
acc_cpu=$(json accuracy)
run "$SBP_CLI" eval --model "$WORK/full-kept.sbp" --limit 200 --threads 1 --quiet --json \
    --backend reference
expect_rc 0 "eval --backend reference"
acc_ref=$(json accuracy)
check "cpu and reference evaluate to the same accuracy ($acc_cpu, $acc_ref)" \
    same_number "$acc_cpu" "$acc_ref"
run "$SBP_CLI" eval --model "$WORK/full-kept.sbp" --limit 200 --threads 1 --quiet --json \
    --reference
expect_rc 0 "--reference is an alias"
check "--reference gives the reference's accuracy" same_number "$(json accuracy)" "$acc_ref"

run "$SBP_CLI" "${args[@]}" --backend gpu --save "$WORK/x.sbp"
expect_rc 2 "an unknown backend is a usage error"
contains "$ERR" "unknown backend 'gpu'" "the message names it"
check "nothing was written for the unknown backend" [ ! -e "$WORK/x.sbp" ]
run "$SBP_CLI" eval --model "$WORK/full-kept.sbp" --backend cuda
if [ "$RC" = 0 ]; then
  pass # a build with a working CUDA backend and a GPU
else
  expect_rc 2 "cuda without a CUDA build or GPU is a usage error"
  contains "$ERR" "cuda" "the message names the backend and why"
fi
finish
