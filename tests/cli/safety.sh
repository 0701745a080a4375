#!/usr/bin/env bash
# tests/cli/safety.sh — issue 10: no data loss, no silent garbage. By class:
#
#   1. outputs never replace anything but a regular file spikebp wrote (or a new path), never a
#      command's own input, never a folder, FIFO or device — checked before any work;
#   2. checkpoints: a resume from another working folder writes to the run's own files; a
#      checkpoint folder belongs to one run; a failed run (NaN stop, SIGINT without checkpoint
#      folder) leaves the existing model and log as they were;
#   3. a disk that fills at every checkpoint write of a --val-split run, each followed by a
#      resume: weights, best.sbp and log identical to the uninterrupted run (faults.c shim);
#   4. garbage refused: plot CSVs, --lr-milestones, spike/image splits, FIFOs as data;
#   5. absurd resources: info without allocating weights, --threads capped at the work;
#   6. the unclear messages of the issue, each with its new text.
#
# File-system faults come from tests/cli/faults.c, an LD_PRELOAD shim built here with cc.
# FIFOs and devices are made inside $WORK only. Needs MNIST (scripts/get-data mnist).
set -euo pipefail

NAME=safety
. "$(dirname "$0")/common.bash"

SHIM=$WORK/faults.so
cc -shared -fPIC -O1 -o "$SHIM" "$SBP_SOURCE_DIR/tests/cli/faults.c" -ldl
# A sanitizer build's runtime must come first in the library list; the shim may precede it.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

SMALL=(--net 28x28x1-4C5-P2-10 --data mnist --train-limit 96 --test-limit 32 -T 4 --batch 16
       --threads 1 --quiet)
crc() { "$SBP_CLI" info --model "$1" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["weights_crc32"])'; }
# same_bytes A B — the two files are identical (and both exist)
same_bytes() { [[ -f $1 && -f $2 ]] && cmp -s "$1" "$2"; }
# untouched_by MSG CMD... — runs CMD and checks that it failed (exit 1) before doing anything:
# the output check must fire before the data (a folder that does not exist) is looked at.
refused() {
    local what=$1 needle=$2
    shift 2
    run "$@"
    expect_rc 1 "$what"
    contains "$ERR" "$needle" "$what: message"
}

cd "$WORK"
mkdir -p out
"$SBP_CLI" train "${SMALL[@]}" --epochs 1 --save out/m.sbp >/dev/null
cp out/m.sbp keep.sbp
cp out/m.sbp.log.csv keep.log.csv

# ------------------------------------------------------------------ 1. outputs
NODATA=(--net 28x28x1-4C5-P2-10 --data "$WORK/no-such-data" --quiet)
mkdir -p adir
refused "--save to a folder" "is a folder" "$SBP_CLI" train "${NODATA[@]}" --save adir
refused "--save ''" "the path is empty" "$SBP_CLI" train "${NODATA[@]}" --save ''
refused "--save newdir/" "names a folder" "$SBP_CLI" train "${NODATA[@]}" --save newdir/
check "--save newdir/ made no folder" test ! -e newdir
echo "not a model" >plain.txt
refused "--save under a regular file" "plain.txt: exists and is not a folder" \
    "$SBP_CLI" train "${NODATA[@]}" --save plain.txt/m.sbp
refused "--save over a file spikebp did not write" "is not a spikebp model" \
    "$SBP_CLI" train "${NODATA[@]}" --save plain.txt
check "the foreign file is untouched" test "$(cat plain.txt)" = "not a model"
refused "--log over a model" "is not a spikebp training log" \
    "$SBP_CLI" train "${NODATA[@]}" --save new.sbp --log keep.sbp
refused "--save and --log the same" "name the same file" \
    "$SBP_CLI" train "${NODATA[@]}" --save s.sbp --log s.sbp
mkfifo fifo
refused "--save onto a FIFO" "not a regular file" "$SBP_CLI" train "${NODATA[@]}" --save fifo
refused "--log onto a FIFO" "not a regular file" \
    "$SBP_CLI" train "${NODATA[@]}" --save new.sbp --log fifo
check "the FIFO is still a FIFO" test -p fifo
if mknod nulldev c 1 3 2>/dev/null; then # root only; a device, made here, never /dev's
    refused "--save onto a device" "not a regular file" "$SBP_CLI" train "${NODATA[@]}" --save nulldev
else
    pass
    pass
fi
ln -s "$WORK/nowhere/x.sbp" dangling
refused "--save onto a dangling link" "dangling symbolic link" \
    "$SBP_CLI" train "${NODATA[@]}" --save dangling
cat >net.net <<'EOF'
[input]
shape = 28x28x1
[output]
classes = 10
EOF
refused "--save onto its own --net file" "is an input of this command" \
    "$SBP_CLI" train --net net.net --data "$WORK/no-such-data" --save net.net
touch ckfile
refused "--checkpoint-dir a file" "exists and is not a folder" \
    "$SBP_CLI" train "${NODATA[@]}" --save new.sbp --checkpoint-dir ckfile
refused "--checkpoint-dir under a file" "ckfile: exists and is not a folder" \
    "$SBP_CLI" train "${NODATA[@]}" --save newdir2/new.sbp --checkpoint-dir ckfile/ck
check "no folder made for a refused run" test ! -e newdir2
refused "--data too long for the model's metadata" "the model metadata holds at most 1023" \
    "$SBP_CLI" train --net 28x28x1-4C5-P2-10 --data "npy:$(printf 'x%.0s' $(seq 1 1100)).npy,y.npy" \
    --save new.sbp
deep=$(printf 'd/%.0s' $(seq 1 520))m.sbp
refused "--save too long for a checkpoint's metadata" "--save (absolute) is" \
    "$SBP_CLI" train "${NODATA[@]}" --save "$deep" --checkpoint-dir ck-deep
check "no folder made for the too-long --save" test ! -e d
refused "--save onto the checkpoint folder's best.sbp" "is a file of the checkpoint folder" \
    "$SBP_CLI" train "${NODATA[@]}" --save ck-new/best.sbp --checkpoint-dir ck-new
refused "--log onto a checkpoint name" "is a file of the checkpoint folder" \
    "$SBP_CLI" train "${NODATA[@]}" --save new.sbp --log "$WORK/ck-new/ckpt-000000-00000001.sbp" \
    --checkpoint-dir ck-new
check "no stray log or model from the refused runs" \
    test -z "$(find . -maxdepth 1 \( -name 'new.sbp*' -o -name 's.sbp*' \) -print -quit)"
# the other commands
refused "analyze --csv onto its own model" "is an input of this command" \
    "$SBP_CLI" analyze --model keep.sbp --csv keep.sbp --data "$WORK/no-such-data"
refused "analyze --csv a folder" "is a folder" \
    "$SBP_CLI" analyze --model keep.sbp --csv adir --data "$WORK/no-such-data"
refused "analyze --steps-csv onto a FIFO" "not a regular file" \
    "$SBP_CLI" analyze --model keep.sbp --steps-csv fifo --data "$WORK/no-such-data"
refused "analyze --csv over a foreign file" "is not a CSV file of 'spikebp analyze'" \
    "$SBP_CLI" analyze --model keep.sbp --csv plain.txt --data "$WORK/no-such-data"
refused "export --npz onto its own model" "is an input of this command" \
    "$SBP_CLI" export --model keep.sbp --npz keep.sbp
refused "export --npz over a foreign file" "is not a NumPy .npz archive" \
    "$SBP_CLI" export --model keep.sbp --npz plain.txt
run "$SBP_CLI" export --model keep.sbp --npz w.npz
expect_rc 0 "export to a new file"
run "$SBP_CLI" export --model keep.sbp --npz w.npz
expect_rc 0 "export over its own earlier archive"
check "keep.sbp untouched by all of it" same_bytes keep.sbp out/m.sbp

# ------------------------------------------------------------------ 2. checkpoints
# A run stopped by a full disk at its 3rd checkpoint write (deterministic, unlike a timed kill)
# leaves two checkpoints to resume from.
CK=(--epochs 2 --checkpoint-every 2)
mkdir -p ref a b
"$SBP_CLI" train "${SMALL[@]}" "${CK[@]}" --save ref/m.sbp --checkpoint-dir ref/ck >/dev/null
ref_crc=$(crc ref/m.sbp)
(cd a && SBP_FAULT_DIR="$WORK/a/ck" SBP_FAULT_ENOSPC=3 LD_PRELOAD=$SHIM \
    "$SBP_CLI" train "${SMALL[@]}" "${CK[@]}" --save m.sbp --checkpoint-dir ck \
    >/dev/null 2>"$WORK/a.err") && st=0 || st=$?
check "full disk at the 3rd checkpoint write: exit $st, expected 1" test "$st" = 1
contains "$(cat a.err)" "No space left on device" "full disk message"
# b holds an unrelated model and log under the same relative names
cp keep.sbp b/m.sbp
cp keep.log.csv b/m.sbp.log.csv
(cd b && run "$SBP_CLI" train --resume ../a/ck --quiet)
expect_rc 0 "resume from another working folder"
check "the other folder's m.sbp is untouched" same_bytes b/m.sbp keep.sbp
check "the other folder's log is untouched" same_bytes b/m.sbp.log.csv keep.log.csv
check "the run's own model is complete: $(crc a/m.sbp 2>/dev/null) vs $ref_crc" \
    test "$(crc a/m.sbp 2>/dev/null)" = "$ref_crc"
check "the run's own log has its 2 epochs" test "$(wc -l <a/m.sbp.log.csv)" = 3
check "log rows as the uninterrupted run's" \
    cmp -s <(cut -d, -f1-6 a/m.sbp.log.csv) <(cut -d, -f1-6 ref/m.sbp.log.csv)

# two runs into one checkpoint folder
mkdir -p two
SBP_FAULT_DIR="$WORK/two/ck" SBP_FAULT_ENOSPC=3 LD_PRELOAD=$SHIM \
    "$SBP_CLI" train "${SMALL[@]}" "${CK[@]}" --save two/m.sbp --checkpoint-dir two/ck \
    >/dev/null 2>&1 || true
before=$(ls two/ck)
run "$SBP_CLI" train "${SMALL[@]}" "${CK[@]}" --seed 9 --save two/other.sbp --checkpoint-dir two/ck
expect_rc 1 "a second run into a folder with another run's checkpoints"
contains "$ERR" "holds the checkpoints of another run" "second run: message"
contains "$ERR" "--resume two/ck" "second run: says how to continue the first"
check "the first run's checkpoints are untouched" test "$(ls two/ck)" = "$before"
check "the second run wrote nothing" test ! -e two/other.sbp
run "$SBP_CLI" train --resume ref/ck --checkpoint-dir two/ck --quiet
expect_rc 1 "a resumed run writing into another run's folder"
contains "$ERR" "holds the checkpoints of another run" "resume into another run's folder: message"
run "$SBP_CLI" train --resume two/ck --quiet
expect_rc 0 "the first run resumes"
check "and ends as the uninterrupted run" test "$(crc two/m.sbp)" = "$ref_crc"

# a failed run beside an existing model and log: both stay as they were
run "$SBP_CLI" train "${SMALL[@]}" --epochs 2 --lr 1e6 --save out/m.sbp
expect_rc 1 "a run that stops on NaN"
contains "$ERR" "NaN" "NaN stop message"
check "NaN stop: the existing model is untouched" same_bytes out/m.sbp keep.sbp
check "NaN stop: the existing log is untouched" same_bytes out/m.sbp.log.csv keep.log.csv
# SIGINT during training, no checkpoint folder: the new log waits beside the old one
# (m.sbp.log.csv.tmp.*) until the first model is saved; interrupt as soon as it exists.
"$SBP_CLI" train --net 28x28x1-4C5-P2-10 --data mnist --train-limit 4000 --test-limit 32 -T 8 \
    --batch 16 --threads 1 --quiet --epochs 1 --save out/m.sbp >/dev/null 2>int.err &
pid=$!
for _ in $(seq 1 600); do
    compgen -G "out/m.sbp.log.csv.tmp.*" >/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
kill -INT $pid 2>/dev/null || true
wait $pid && st=0 || st=$?
check "SIGINT during training: exit $st, expected 130" test "$st" = 130
check "SIGINT: the existing model is untouched" same_bytes out/m.sbp keep.sbp
check "SIGINT: the existing log is untouched" same_bytes out/m.sbp.log.csv keep.log.csv
check "SIGINT: no temporary log left" test -z "$(compgen -G 'out/m.sbp.log.csv.tmp.*' || true)"
# SIGINT while blocked reading the data (faults.c makes the read wait for a signal)
cache=${SBP_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spikebp}
SBP_FAULT_DIR="$cache/mnist/train-images" SBP_FAULT_BLOCK=1 LD_PRELOAD=$SHIM \
    "$SBP_CLI" train "${SMALL[@]}" --save blocked.sbp >/dev/null 2>blocked.err &
pid=$!
sleep 1
kill -INT $pid 2>/dev/null || true
wait $pid && st=0 || st=$?
check "SIGINT while blocked on input: exit $st, expected 130 ($(cat blocked.err))" test "$st" = 130
contains "$(cat blocked.err)" "interrupted" "SIGINT while blocked: message"

# ------------------------------------------------------------------ 3. a disk that fills
# A --val-split run (best.sbp) with checkpoints every 2 batches: the disk fills at its k-th
# checkpoint write, for every k; the run fails, a resume (or, with no checkpoint yet, a new
# start) completes it; weights, best.sbp and the log rows equal the uninterrupted run's.
# lr 0.03, seed 1: validation accuracy peaks at epoch 2, so best.sbp is not the final model
VS=("${SMALL[@]}" --epochs 3 --val-split 0.25 --checkpoint-every 2 --keep 2 --lr 0.03 --seed 1)
mkdir -p full
SBP_FAULT_DIR="$WORK/full/ck" SBP_FAULT_ENOSPC=0 SBP_FAULT_COUNT="$WORK/full/count" \
    LD_PRELOAD=$SHIM "$SBP_CLI" train "${VS[@]}" --save full/m.sbp --checkpoint-dir full/ck >/dev/null
writes=$(cat full/count)
ref_crc=$(crc full/m.sbp)
ref_best=$(crc full/ck/best.sbp)
check "the reference run wrote $writes checkpoint files (expected > 8)" test "$writes" -gt 8
check "best.sbp ($ref_best) is an earlier epoch than the final model ($ref_crc)" \
    test "$ref_best" != "$ref_crc"
ok_all=1
for k in $(seq 1 "$writes"); do
    rm -rf "full/r$k"
    mkdir -p "full/r$k"
    d=$WORK/full/r$k
    SBP_FAULT_DIR="$d/ck" SBP_FAULT_ENOSPC=$k LD_PRELOAD=$SHIM \
        "$SBP_CLI" train "${VS[@]}" --save "$d/m.sbp" --checkpoint-dir "$d/ck" \
        >/dev/null 2>"$d/err" && st=0 || st=$?
    if [[ $st != 1 ]] || ! grep -q "No space left on device" "$d/err"; then
        fail "disk full at write $k: exit $st: $(cat "$d/err")"
        ok_all=0
        continue
    fi
    if compgen -G "$d/ck/ckpt-*.sbp" >/dev/null; then
        "$SBP_CLI" train --resume "$d/ck" --quiet >/dev/null 2>"$d/err2" && st=0 || st=$?
    else # the first checkpoint never reached the disk: nothing to resume, start again
        rm -rf "$d/ck"
        "$SBP_CLI" train "${VS[@]}" --save "$d/m.sbp" --checkpoint-dir "$d/ck" \
            >/dev/null 2>"$d/err2" && st=0 || st=$?
    fi
    got=$(crc "$d/m.sbp" 2>/dev/null || echo none)
    best=$(crc "$d/ck/best.sbp" 2>/dev/null || echo none)
    if [[ $st != 0 || $got != "$ref_crc" || $best != "$ref_best" ]] ||
        ! cmp -s <(cut -d, -f1-6 "$d/m.sbp.log.csv") <(cut -d, -f1-6 full/m.sbp.log.csv); then
        fail "disk full at write $k, then resume: exit $st, weights $got (want $ref_crc)," \
             "best.sbp $best (want $ref_best), log differs or not: $(cat "$d/err2")"
        ok_all=0
    fi
    if compgen -G "$d/ck/*.tmp.*" >/dev/null || compgen -G "$d/*.tmp.*" >/dev/null; then
        fail "disk full at write $k: temporary files left"
        ok_all=0
    fi
done
check "disk full at each of $writes checkpoint writes, then resumed: all identical" test $ok_all = 1
echo "safety: disk full at each of $writes checkpoint writes: weights $ref_crc, best $ref_best"

# ------------------------------------------------------------------ 4. garbage
run "$SBP_CLI" train "${SMALL[@]}" --lr-milestones 3,,1 --save g.sbp
expect_rc 2 "--lr-milestones 3,,1"
contains "$ERR" "item 2 is not an epoch" "--lr-milestones 3,,1: message"
run "$SBP_CLI" train "${SMALL[@]}" --lr-milestones 3,1 --save g.sbp
expect_rc 2 "--lr-milestones 3,1"
contains "$ERR" "must increase" "--lr-milestones 3,1: message"
run "$SBP_CLI" train "${SMALL[@]}" --lr-milestones , --save g.sbp
expect_rc 2 "--lr-milestones ,"
run "$SBP_CLI" train "${SMALL[@]}" --epochs 1 --val-split 0.001 --save g.sbp
expect_rc 0 "--val-split 0.001 of 96 images"
contains "$ERR" "holds no image; there is no validation split" "--val-split too small: note"
# spike trains (N, T, C, H, W) for training, images for testing; spike data of two lengths
"$PY" - <<'EOF'
import numpy as np
rng = np.random.default_rng(3)
np.save("sx.npy", rng.integers(0, 2, (8, 3, 1, 8, 8)).astype(np.uint8))
np.save("sx5.npy", rng.integers(0, 2, (8, 5, 1, 8, 8)).astype(np.uint8))
np.save("ix.npy", rng.integers(0, 256, (8, 1, 8, 8)).astype(np.uint8))
np.save("y.npy", rng.integers(0, 10, 8).astype(np.int64))
EOF
run "$SBP_CLI" train --net 8x8x1-10 --data npy:sx.npy,y.npy,ix.npy,y.npy --save g.sbp --quiet
expect_rc 1 "spike-train training set with an image test set"
contains "$ERR" "the training set is spike trains of 3 steps but the test set is images" \
    "spike/image splits: message"
run "$SBP_CLI" train --net 8x8x1-10 --data npy:sx.npy,y.npy,sx5.npy,y.npy --save g.sbp --quiet
expect_rc 1 "spike trains of 3 and of 5 steps"
contains "$ERR" "spike trains of 3 steps but the test set is spike trains of 5 steps" \
    "spike lengths: message (not '3 time steps were asked for')"
# FIFOs as data: refused at once, never waited on (timeout: a hang fails the check)
run timeout 20 "$SBP_CLI" train --net 8x8x1-10 --data npy:fifo,y.npy --save g.sbp --quiet
expect_rc 1 "a FIFO as npy data"
contains "$ERR" "FIFO" "FIFO as npy data: message"
mkdir -p fifodata
mkfifo fifodata/train-images-idx3-ubyte fifodata/train-labels-idx1-ubyte
run timeout 20 "$SBP_CLI" train --net 28x28x1-10 --data idx:fifodata --save g.sbp --quiet
expect_rc 1 "FIFOs as IDX data"
contains "$ERR" "a FIFO, not a regular file" "FIFO as IDX data: message"
run timeout 20 "$SBP_CLI" train --net "$WORK/fifo" --data "$WORK/no-such-data" --save g.sbp --quiet
expect_rc 1 "a FIFO as --net"
run timeout 20 "$SBP_CLI" eval --model fifo --quiet
expect_rc 1 "a FIFO as --model"
contains "$ERR" "a FIFO, not a regular file" "FIFO as --model: message"
# plot: CSVs that are not what train/analyze write
if "$SBP_CLI" plot --help 2>&1 | grep -q "usage: spikebp plot"; then
    H=epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second
    printf '%s\n1,0.1,x,0.1,0.2,0.3,1,1\n' $H >nonnum.csv
    printf '%s\n1,0.1,0.5,0.1\n' $H >short.csv
    printf '%s\n1,0.1,0.5,0.1,0.2,0.3,1,1\n2,0.1,0.4,0.2,0\0,0.3,1,1\n' $H >nul.csv
    printf '%s\n1,0.1,nan,0.1,0.2,0.3,1,1\n' $H >nan.csv
    printf 'steps,accuracy,correct,images\n1,0.5,5,10\n2,,6,10\n' >steps.csv
    for f in nonnum short nul nan steps; do
        run "$SBP_CLI" plot "$([[ $f == steps ]] && echo --steps || echo --log)" $f.csv --out adir
        expect_rc 1 "plot $f.csv"
    done
    run "$SBP_CLI" plot --log nonnum.csv --out adir
    contains "$ERR" "data row 1, column 'train_loss': 'x' is not a number" "plot: non-numeric"
    run "$SBP_CLI" plot --log short.csv --out adir
    contains "$ERR" "line 2 has 4 fields, the header has 8" "plot: short row"
    run "$SBP_CLI" plot --log nul.csv --out adir
    contains "$ERR" "a NUL byte at offset" "plot: NUL byte"
    run "$SBP_CLI" plot --log .
    contains "$ERR" ".: a folder, not a CSV file" "plot --log . (was 'empty file')"
    run timeout 20 "$SBP_CLI" plot --log fifo
    contains "$ERR" "not a regular file" "plot --log FIFO"
    check "plot drew nothing from the bad files" test -z "$(ls adir)"
    echo junk >keep.log.png
    run "$SBP_CLI" plot --log keep.log.csv
    expect_rc 1 "plot over a foreign .png"
    contains "$ERR" "is not a PNG or SVG figure" "plot over a foreign .png: message"
else
    echo "safety: this build has no plot command; its checks are skipped"
fi

# ------------------------------------------------------------------ 5. absurd resources
if [[ -x /usr/bin/time ]]; then
    run /usr/bin/time -f "%M" "$SBP_CLI" info --net 32x32x3-3000C3-3000C3-10
    expect_rc 0 "info of a network with 3000-filter convolutions"
    contains "$OUT" "total parameters: 111801000" "info: parameter count"
    kb=$(printf '%s\n' "$ERR" | tail -n 1)
    check "info allocated no weights: peak $kb kB (the weights alone are 447 MB)" test "$kb" -lt 150000
fi
run "$SBP_CLI" train --net 28x28x1-4C5-P2-10 --data mnist --train-limit 16 --test-limit 16 -T 2 \
    --batch 16 --epochs 1 --threads 1024 --quiet --save thr.sbp
expect_rc 0 "train --threads 1024 on 16 images"
contains "$ERR" "--threads 1024 capped at 16" "train --threads: note"
run "$SBP_CLI" eval --model thr.sbp --limit 8 --threads 1024 --quiet
expect_rc 0 "eval --threads 1024 on 8 images"
contains "$ERR" "--threads 1024 capped at 8" "eval --threads: note"

# ------------------------------------------------------------------ 6. messages
run "$SBP_CLI" train --resume "$WORK/no-such-folder" --quiet
expect_rc 1 "--resume of a missing folder"
contains "$ERR" "no-such-folder: no such folder" "--resume missing: message (was 'no checkpoint')"
mkdir -p emptyck
run "$SBP_CLI" train --resume emptyck --quiet
contains "$ERR" "the folder holds no checkpoint" "--resume of an empty folder: message"
printf '\xef\xbb\xbf[input]\nshape = 28x28x1\n[output]\nclasses = 10\n' >bom.net
run "$SBP_CLI" info --net bom.net
expect_rc 1 "a description file with a BOM"
contains "$ERR" "bom.net:1: the file starts with a UTF-8 byte-order mark" "BOM: message"
printf '[input]\nshape = 28x28x1\n[neuron]\nleak = 0.9\n[neuron]\nthreshold = 2\n[output]\nclasses = 10\n' >neuron2.net
run "$SBP_CLI" info --net neuron2.net
expect_rc 1 "a repeated [neuron] section"
contains "$ERR" "neuron2.net:5: a second [neuron] section" "repeated [neuron]: message"
"$PY" - <<'EOF'
import io, warnings, zipfile
import numpy as np
warnings.simplefilter("ignore")
b = io.BytesIO(); np.save(b, np.zeros((4, 1, 28, 28), np.uint8)); x = b.getvalue()
b = io.BytesIO(); np.save(b, np.zeros(4, np.int64)); y = b.getvalue()
with zipfile.ZipFile("dup.npz", "w") as z:
    z.writestr("x.npy", x); z.writestr("x.npy", x); z.writestr("y.npy", y)
np.savez("w5.npz", **{"layer0.conv.weight": np.zeros((4, 1, 5, 5, 1), np.float32)})
EOF
run "$SBP_CLI" train --net 28x28x1-4C5-P2-10 --data npz:dup.npz --save g.sbp --quiet
expect_rc 1 "an .npz with a duplicate member"
contains "$ERR" "two members of the same name" "duplicate NPZ member: message (was 'File already exists')"
run "$SBP_CLI" train --net 28x28x1-4C5-P2-10 --init w5.npz --data mnist --train-limit 16 --save g.sbp --quiet
expect_rc 1 "a 5-D --init array"
contains "$ERR" "has shape 4×1×5×5×1, the network needs 4×1×5×5" "5-D --init: message"
{ printf '[input]\nshape = 8x8x1\n'; for _ in $(seq 1 70); do printf '[dense]\nunits = 4\n'; done
  printf '[output]\nclasses = 10\n'; } >deep.net
run "$SBP_CLI" info --net deep.net
expect_rc 1 "a description with more layers than the limit"
contains "$ERR" "more than $("$PY" -c "import re,sys; print(re.search(r'define SBP_MAX_LAYERS (\d+)', open(sys.argv[1]).read()).group(1))" "$SBP_SOURCE_DIR/include/spikebp.h") layers (the limit)" \
    "a limit is stated with its value"

finish
