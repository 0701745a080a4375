#!/usr/bin/env bash
# tests/cli/analyze_plot.sh — `spikebp analyze` and `spikebp plot` end to end, on real MNIST
# (scripts/get-data):
#
#   - usage: --help, exit code 2 for usage errors;
#   - analyze: a tiny LeNet model (128 training images, T = 10); the JSON fields, LeNet's dense
#     MACs (SPEC §8: 5,784,000 per step), the energy figures, accuracy by steps whose last entry
#     is exactly the accuracy `eval` reports on the same images; the two CSV files; the table;
#   - plot: every kind (--log, --analysis, --steps, --raster, --confusion) writes non-empty PNG
#     and SVG files (`file` says PNG); --format, --out; failures name the file. A build without
#     PLplot must say that it has no plotting and exit 1 — then only that is checked.
#
# ctest runs it with SBP_CLI = the spikebp binary. A few seconds. Prints
# "analyze_plot: N passed, M failed"; exits 1 on any failure.
set -euo pipefail

NAME=analyze_plot
. "$(dirname "$0")/common.bash"

# Under the sanitizer build (make test-sanitize), LeakSanitizer reports the caches fontconfig,
# cairo and PLplot keep until exit as leaks; spikebp's own allocations stay checked.
printf 'leak:%s\n' libfontconfig libcairo libplplot libpango libglib libgobject libfreetype \
    libpixman libharfbuzz >"$WORK/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$WORK/lsan.supp:print_suppressions=0"

is_png() {
    if command -v file >/dev/null; then
        file "$1" | grep -q 'PNG image data'
    else
        [[ $(head -c 8 "$1" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]
    fi
}

t_start=$SECONDS

# ------------------------------------------------------------------ usage
for cmd in analyze plot; do
    run "$SBP_CLI" "$cmd" --help
    expect_rc 0 "spikebp $cmd --help"
    contains "$OUT" "usage: spikebp $cmd" "spikebp $cmd --help"
done
run "$SBP_CLI" analyze --help
contains "$OUT" "saturated" "analyze --help defines saturated"
contains "$OUT" "[1000]" "analyze --help shows the --images default"
run "$SBP_CLI" --help
contains "$OUT" "analyze" "spikebp --help lists analyze"
contains "$OUT" "plot" "spikebp --help lists plot"
run "$SBP_CLI" analyze --json
expect_rc 2 "analyze without --model"
contains "$ERR" "--model" "analyze without --model message"
run "$SBP_CLI" analyze --model x.sbp --images 0
expect_rc 2 "analyze --images 0"
run "$SBP_CLI" analyze --model x.sbp --mac-pj abc
expect_rc 2 "analyze --mac-pj abc"
run "$SBP_CLI" analyze --no-such-option
expect_rc 2 "analyze --no-such-option"

# ------------------------------------------------------------------ a tiny model
M="$WORK/m.sbp"
run "$SBP_CLI" train --net lenet --data mnist --train-limit 128 --test-limit 64 -T 10 \
    --batch 32 --save "$M" --json --quiet
expect_rc 0 "train a tiny model (128 images, T 10)"
if [[ $RC != 0 ]]; then
    echo "analyze_plot: training failed — is MNIST cached? (scripts/get-data mnist)" >&2
fi

# ------------------------------------------------------------------ analyze
run "$SBP_CLI" eval --model "$M" --limit 64 --json --quiet
expect_rc 0 "eval of the tiny model"
eval_acc=$(jexpr 'd["accuracy"]')

run "$SBP_CLI" analyze --model "$M" --images 64 --json --quiet
expect_rc 0 "analyze --json"
check "analyze: command '$(jexpr 'd["command"]')'" truthy 'd["command"] == "analyze"'
check "analyze: images $(jexpr 'd["images"]'), timesteps $(jexpr 'd["timesteps"]')" \
    truthy 'd["images"] == 64 and d["timesteps"] == 10 and d["data"] == "mnist"'
check "analyze: $(jexpr 'len(d["layers"])') layers, expected 6" truthy 'len(d["layers"]) == 6'
check "analyze: layer names $(jexpr '[l["name"] for l in d["layers"]]')" \
    truthy '[l["name"] for l in d["layers"]] == ["20C5", "P2", "50C5", "P2", "200FC", "10 out"]'
check "analyze: dense MACs per step $(jexpr 'd["totals"]["dense_macs_per_step"]') (SPEC §8)" \
    truthy 'd["totals"]["dense_macs_per_step"] == 5784000'
check "analyze: dense MACs per image $(jexpr 'd["totals"]["dense_macs_per_image"]') (× T)" \
    truthy 'd["totals"]["dense_macs_per_image"] == 57840000'
check "analyze: per-layer dense MACs $(jexpr '[l["dense_macs_per_step"] for l in d["layers"]]')" \
    truthy '[l["dense_macs_per_step"] for l in d["layers"]] == [392000, 0, 4900000, 0, 490000, 2000]'
check "analyze: spike rates in [0, 1]" \
    truthy 'all(0 <= l["spike_rate"] <= 1 and 0 <= l["silent_fraction"] <= 1 and 0 <= l["saturated_fraction"] <= 1 for l in d["layers"][:5])'
check "analyze: the output layer has no rate" \
    truthy 'd["layers"][5]["spike_rate"] is None and d["layers"][5]["spiking"] is False'
check "analyze: input spikes reach layer 1 ($(jexpr 'd["layers"][0]["acs_per_image"]') ACs)" \
    truthy 'd["layers"][0]["acs_per_image"] > 0 and d["input"]["spike_rate"] > 0'
check "analyze: layer ACs sum to the total" \
    truthy 'abs(sum(l["acs_per_image"] for l in d["layers"]) - d["totals"]["snn_acs_per_image"]) < 1e-6 * d["totals"]["snn_acs_per_image"]'
check "analyze: layer 1 input spikes = input rate × 784 × T" \
    truthy 'abs(d["layers"][0]["input_spikes_per_image"] - d["input"]["spike_rate"] * 784 * 10) < 1e-3'
check "analyze: ANN energy $(jexpr 'd["totals"]["ann_energy_uj"]') µJ = 5784000 × 4.6 pJ" \
    truthy 'abs(d["totals"]["ann_energy_uj"] - 26.6064) < 1e-9'
check "analyze: SNN energy = ACs × 0.9 pJ and the ratio" \
    truthy 'abs(d["totals"]["snn_energy_uj"] - d["totals"]["snn_acs_per_image"] * 0.9e-6) < 1e-9 and abs(d["totals"]["energy_ratio_ann_over_snn"] - d["totals"]["ann_energy_uj"] / d["totals"]["snn_energy_uj"]) < 1e-6'
check "analyze: accuracy_by_steps has $(jexpr 'len(d["accuracy_by_steps"])') entries, expected 10" \
    truthy 'len(d["accuracy_by_steps"]) == 10'
check "analyze: accuracy $(jexpr 'd["accuracy"]') after T steps != eval's $eval_acc" \
    truthy "d['accuracy'] == d['accuracy_by_steps'][-1] == float('$eval_acc')"
check "analyze: wrote $M.analysis.csv" test -s "$M.analysis.csv"
check "analyze: wrote $M.accuracy_steps.csv" test -s "$M.accuracy_steps.csv"
if [[ -s $M.analysis.csv && -s $M.accuracy_steps.csv ]]; then
    check "analysis CSV header: $(head -n 1 "$M.analysis.csv")" \
        test "$(head -n 1 "$M.analysis.csv" | cut -d, -f1-5)" = "layer,name,kind,neurons,spike_rate"
    check "analysis CSV: $(wc -l <"$M.analysis.csv") lines, expected 9 (header, input, 6 layers, total)" \
        test "$(wc -l <"$M.analysis.csv")" -eq 9
    check "steps CSV: $(wc -l <"$M.accuracy_steps.csv") lines, expected 11" \
        test "$(wc -l <"$M.accuracy_steps.csv")" -eq 11
    check "steps CSV: last row $(tail -n 1 "$M.accuracy_steps.csv")" \
        test "$(tail -n 1 "$M.accuracy_steps.csv" | cut -d, -f1,4)" = "10,64"
fi
# the same run again gives the same numbers (deterministic, whatever the thread count)
first=$OUT
run "$SBP_CLI" analyze --model "$M" --images 64 --json --quiet --threads 1 \
    --csv "$WORK/other.csv" --steps-csv "$WORK/other-steps.csv"
expect_rc 0 "analyze --threads 1 --csv"
check "analyze: 1 thread gives other numbers than all threads" \
    test "$(printf '%s' "$OUT" | sed 's/"csv":.*//')" = "$(printf '%s' "$first" | sed 's/"csv":.*//')"
check "analyze --csv wrote $WORK/other.csv" test -s "$WORK/other.csv"
check "analyze --csv: same content" cmp -s "$WORK/other.csv" "$M.analysis.csv"

run "$SBP_CLI" analyze --model "$M" --images 32 -T 4 --quiet
expect_rc 0 "analyze table, -T 4"
contains "$OUT" "T = 4 steps" "analyze table header"
contains "$OUT" "5,784,000" "analyze table: LeNet's dense MACs"
contains "$OUT" "saturated: spiking at ≥ 90 % of the steps" "analyze table: definition"
contains "$OUT" "accuracy by inference steps" "analyze table: accuracy by steps"
contains "$OUT" "ANN / SNN" "analyze table: energy ratio"
run "$SBP_CLI" analyze --model "$WORK/missing.sbp" --quiet
expect_rc 1 "analyze of a missing model"
contains "$ERR" "$WORK/missing.sbp" "missing model message"

# ------------------------------------------------------------------ plot
run "$SBP_CLI" plot --log "$M.log.csv" --quiet
if [[ $RC == 1 && $ERR == *"no plotting"* ]]; then
    pass
    echo "analyze_plot: this build has no plotting (PLplot absent): plot checks skipped" >&2
else
    expect_rc 0 "plot --log"
    check "plot --log: $M.log.png" test -s "$M.log.png"
    check "plot --log: $M.log.svg" test -s "$M.log.svg"

    run "$SBP_CLI" plot --json
    expect_rc 2 "plot without a kind"
    run "$SBP_CLI" plot --log a.csv --steps b.csv
    expect_rc 2 "plot with two kinds"
    run "$SBP_CLI" plot --raster
    expect_rc 2 "plot --raster without --model"
    contains "$ERR" "--model" "plot --raster without --model message"
    run "$SBP_CLI" plot --log "$M.log.csv" --format gif
    expect_rc 2 "plot --format gif"

    FIG="$WORK/figs"
    mkdir -p "$FIG"
    kinds=("--log $M.log.csv" "--analysis $M.analysis.csv" "--steps $M.accuracy_steps.csv"
           "--raster --model $M --layer 1" "--raster --model $M --layer 3 --image 1 --neurons 16"
           "--raster --model $M --layer 6" "--confusion --model $M --images 64")
    for k in "${kinds[@]}"; do
        # shellcheck disable=SC2086
        run "$SBP_CLI" plot $k --out "$FIG" --json --quiet
        expect_rc 0 "plot $k"
        n_files=$(jexpr 'len(d["files"])')
        check "plot $k: $n_files files, expected 2 (png, svg)" test "$n_files" = 2
        for f in $(jexpr '" ".join(d["files"])'); do
            check "plot $k: $f is empty or missing" test -s "$f"
            case $f in
            *.png) check "plot $k: $f is not a PNG" is_png "$f" ;;
            *.svg) check "plot $k: $f is not SVG" grep -q '<svg' "$f" ;;
            *) fail "plot $k: unexpected file $f" ;;
            esac
            case $f in "$FIG"/*) pass ;; *) fail "plot $k: $f is not in --out $FIG" ;; esac
        done
    done
    check "plot: raster file name" test -s "$FIG/m.sbp.raster-l3-i1.png"
    check "plot: confusion file name" test -s "$FIG/m.sbp.confusion.svg"

    run "$SBP_CLI" plot --steps "$M.accuracy_steps.csv" --format png --out "$FIG/png" --json
    expect_rc 1 "plot into a missing folder"
    mkdir -p "$FIG/png"
    run "$SBP_CLI" plot --steps "$M.accuracy_steps.csv" --format png --out "$FIG/png" --json
    expect_rc 0 "plot --format png"
    check "plot --format png writes only a PNG" \
        test "$(ls "$FIG/png")" = "m.sbp.accuracy_steps.png"

    run "$SBP_CLI" plot --log "$WORK/none.csv"
    expect_rc 1 "plot --log of a missing file"
    contains "$ERR" "$WORK/none.csv" "missing CSV message"
    run "$SBP_CLI" plot --analysis "$M.log.csv" --out "$FIG"
    expect_rc 1 "plot --analysis of a training log"
    contains "$ERR" "no column" "wrong CSV message"
    run "$SBP_CLI" plot --raster --model "$M" --layer 9 --out "$FIG"
    expect_rc 1 "plot --raster --layer 9"
    contains "$ERR" "6 layers" "--layer 9 message"
    run "$SBP_CLI" plot --raster --model "$M" --image 100000 --out "$FIG"
    expect_rc 1 "plot --raster --image 100000"
    contains "$ERR" "--image" "--image message"
fi

echo "analyze_plot: elapsed $((SECONDS - t_start)) s" >&2
finish
