#!/usr/bin/env bash
# tests/cli/nir.sh — NIR export and import end to end (docs/nir.md), on real MNIST:
#
#   - a LeNet trained briefly (640 images) is exported with `export --nir`, and `eval --model
#     net.nir` gives EXACTLY the accuracy, correct count and loss of `eval --model net.sbp` on
#     the same 2 000 test images;
#   - the file passes tests/nir_check.py (h5py, written from the NIR specification: node types
#     and keys as NIR's reference reader expects, types along the edges), and the checker
#     itself refuses a file with a key NIR does not know and one with a misspelled node type;
#   - `train --init net.nir` starts from the graph's weights (unchanged after a run with a
#     negligible learning rate) and network; with --net the layers must match;
#   - a residual network (1×1 conv shortcut) goes through export and the checker too;
#   - failures: a truncated file, a text file named .nir, an HDF5 file that is not a graph,
#     an export into a missing folder — clear messages naming the file, exit code 1.
# A build without HDF5 must instead say that it has no NIR support (checked, then done).
#
# ctest runs it with SBP_CLI = the spikebp binary; about 20 s on two busy cores.
set -euo pipefail

NAME=cli_nir
. "$(dirname "$0")/common.bash"

CHECKER="$(dirname "$0")/../nir_check.py"

# ------------------------------------------------------------------ build without HDF5
run "$SBP_CLI" train --net "28x28x1-2C5-P2-10" --data mnist --train-limit 32 --test-limit 16 -T 4 \
    --quiet --save "$WORK/tiny.sbp"
expect_rc 0 "train a tiny model"
run "$SBP_CLI" export --model "$WORK/tiny.sbp" --nir "$WORK/tiny.nir"
if [[ $RC != 0 && $ERR == *"no NIR support"* ]]; then
    pass
    echo "$NAME: this build has no NIR support (HDF5 not found); checked that it says so"
    finish
    exit $?
fi
expect_rc 0 "export --nir"

if ! "$PY" -c 'import h5py' 2>/dev/null; then
    fail "python3-h5py is required for the structural check (scripts/install-deps)"
    finish
    exit 1
fi

# ------------------------------------------------------------------ LeNet: same accuracy
run "$SBP_CLI" train --net lenet --data mnist --train-limit 640 --test-limit 100 -T 20 \
    --batch 32 --threads 2 --quiet --save "$WORK/lenet.sbp"
expect_rc 0 "train LeNet on 640 images"
if [[ $RC != 0 ]]; then
    echo "$NAME: training failed — is MNIST cached? (scripts/get-data mnist)" >&2
    finish
    exit 1
fi
run "$SBP_CLI" export --model "$WORK/lenet.sbp" --nir "$WORK/lenet.nir" --json
expect_rc 0 "export LeNet --nir"
check "export --json names the file" test "$(json nir)" = "$WORK/lenet.nir"
check "export --json: 517500 parameters" test "$(json parameters)" = 517500

# info and analyze read a NIR graph as they read a model file
run "$SBP_CLI" info --model "$WORK/lenet.sbp" --json
crc_sbp=$(json weights_crc32)
run "$SBP_CLI" info --model "$WORK/lenet.nir" --json
expect_rc 0 "info --model lenet.nir"
check "info: the graph's weights CRC equals the model's ($crc_sbp)" \
    test "$(json weights_crc32)" = "$crc_sbp"
run "$SBP_CLI" analyze --model "$WORK/lenet.nir" --images 50 --threads 2 --quiet --json \
    --csv "$WORK/nir.analysis.csv" --steps-csv "$WORK/nir.steps.csv"
expect_rc 0 "analyze --model lenet.nir"
an_nir=$(jexpr 'd["correct"]')
run "$SBP_CLI" analyze --model "$WORK/lenet.sbp" --images 50 --threads 2 --quiet --json \
    --csv "$WORK/sbp.analysis.csv" --steps-csv "$WORK/sbp.steps.csv"
check "analyze: the graph and the model give the same figures" \
    cmp -s "$WORK/nir.analysis.csv" "$WORK/sbp.analysis.csv"
check "analyze: the same correct count ($an_nir)" test "$(jexpr 'd["correct"]')" = "$an_nir"

run "$SBP_CLI" eval --model "$WORK/lenet.sbp" --limit 2000 --threads 2 --json --quiet
expect_rc 0 "eval the .sbp"
acc_sbp=$(json accuracy) correct_sbp=$(json correct) loss_sbp=$(json loss) T_sbp=$(json timesteps)
run "$SBP_CLI" eval --model "$WORK/lenet.nir" --limit 2000 --threads 2 --json --quiet
expect_rc 0 "eval the .nir"
check "same accuracy after NIR ($acc_sbp vs $(json accuracy))" same_number "$acc_sbp" "$(json accuracy)"
check "same correct count ($correct_sbp vs $(json correct))" test "$correct_sbp" = "$(json correct)"
check "same loss ($loss_sbp vs $(json loss))" same_number "$loss_sbp" "$(json loss)"
check "the .nir keeps the data set and T (mnist, $T_sbp)" \
    test "$(json data)/$(json timesteps)" = "mnist/$T_sbp"
check "accuracy above chance ($acc_sbp)" greater "$acc_sbp" 0.3

# ------------------------------------------------------------------ structural check (h5py)
run "$PY" "$CHECKER" "$WORK/lenet.nir" --layers 6 --shortcuts 0
expect_rc 0 "nir_check on LeNet: ${ERR:0:300}"
# the checker must be able to fail: a key NIR's LIF does not take, a misspelled type
"$PY" - "$WORK/lenet.nir" "$WORK/extra_key.nir" "$WORK/bad_type.nir" <<'PY'
import shutil, sys, h5py
src, a, b = sys.argv[1:]
shutil.copy(src, a)
with h5py.File(a, "r+") as f:
    f["node/nodes/lif0"].create_dataset("beta", data=0.99)
shutil.copy(src, b)
with h5py.File(b, "r+") as f:
    del f["node/nodes/lif4/type"]
    f["node/nodes/lif4"].create_dataset("type", data="Lif", dtype=h5py.string_dtype())
PY
run "$PY" "$CHECKER" "$WORK/extra_key.nir"
expect_rc 1 "nir_check refuses a key NIR does not know"
contains "$ERR" "beta" "nir_check names the unknown key"
run "$PY" "$CHECKER" "$WORK/bad_type.nir"
expect_rc 1 "nir_check refuses a misspelled type"
# spikebp refuses them too, naming the node
run "$SBP_CLI" eval --model "$WORK/bad_type.nir" --limit 10 --quiet
expect_rc 1 "eval a graph with an unknown node type"
contains "$ERR" "node 'lif4'" "the message names the node"
contains "$ERR" "bad_type.nir" "the message names the file"

# ------------------------------------------------------------------ train --init net.nir
run "$SBP_CLI" train --init "$WORK/lenet.nir" --data mnist --train-limit 64 --test-limit 32 -T 6 \
    --batch 32 --lr 1e-12 --weight-decay 0 --threads 2 --quiet --save "$WORK/again.sbp"
expect_rc 0 "train --init lenet.nir"
"$SBP_CLI" export --model "$WORK/lenet.sbp" --npz "$WORK/a.npz" >/dev/null
"$SBP_CLI" export --model "$WORK/again.sbp" --npz "$WORK/b.npz" >/dev/null
check "--init net.nir started from the graph's weights" "$PY" - "$WORK/a.npz" "$WORK/b.npz" <<'PY'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert sorted(a.files) == sorted(b.files), (a.files, b.files)
for k in a.files:
    assert np.array_equal(a[k], b[k]), k
PY
run "$SBP_CLI" train --net lenet --init "$WORK/lenet.nir" --data mnist --train-limit 32 \
    --test-limit 16 -T 4 --quiet --save "$WORK/again2.sbp"
expect_rc 0 "train --net lenet --init lenet.nir (same layers)"
run "$SBP_CLI" train --net vgg9 --init "$WORK/lenet.nir" --data mnist --train-limit 32 -T 4 \
    --quiet --save "$WORK/never.sbp"
expect_rc 1 "train --net vgg9 --init lenet.nir"
contains "$ERR" "lenet.nir holds" "the layer mismatch is explained"

# ------------------------------------------------------------------ a residual network
cp "$SBP_SOURCE_DIR/tests/data/residual-small.net" "$WORK/res.net"
run "$SBP_CLI" train --net "$WORK/res.net" --data mnist --train-limit 64 --test-limit 32 -T 6 \
    --batch 32 --threads 2 --quiet --save "$WORK/res.sbp"
expect_rc 0 "train a residual net"
run "$SBP_CLI" export --model "$WORK/res.sbp" --nir "$WORK/res.nir"
expect_rc 0 "export the residual net"
run "$PY" "$CHECKER" "$WORK/res.nir" --layers 5 --shortcuts 1
expect_rc 0 "nir_check on the residual net: ${ERR:0:300}"
run "$SBP_CLI" eval --model "$WORK/res.sbp" --limit 200 --json --quiet
acc_a=$(json accuracy)
run "$SBP_CLI" eval --model "$WORK/res.nir" --limit 200 --json --quiet
check "residual net: same accuracy after NIR" same_number "$acc_a" "$(json accuracy)"

# ------------------------------------------------------------------ failures
head -c 3000 "$WORK/lenet.nir" > "$WORK/cut.nir"
run "$SBP_CLI" eval --model "$WORK/cut.nir" --limit 10 --quiet
expect_rc 1 "eval a truncated NIR file"
contains "$ERR" "cut.nir" "truncated: the message names the file"
printf 'not a graph\n' > "$WORK/text.nir"
run "$SBP_CLI" train --init "$WORK/text.nir" --data mnist --train-limit 32 -T 4 --quiet \
    --save "$WORK/never.sbp"
expect_rc 1 "train --init with a text file"
"$PY" -c 'import h5py, sys; h5py.File(sys.argv[1], "w").create_dataset("x", data=[1, 2])' \
    "$WORK/plain.h5"
run "$SBP_CLI" eval --model "$WORK/plain.h5" --limit 10 --quiet
expect_rc 1 "eval an HDF5 file that is not a NIR graph"
contains "$ERR" "not a NIR graph" "plain HDF5: says it is not a NIR graph"
run "$SBP_CLI" export --model "$WORK/lenet.sbp" --nir "$WORK/no/such/folder/x.nir"
expect_rc 1 "export --nir into a missing folder"
contains "$ERR" "no/such/folder/x.nir" "missing folder: the message names the path"

finish
