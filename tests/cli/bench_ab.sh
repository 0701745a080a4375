#!/usr/bin/env bash
# bench_ab.sh — bench/ab, the side-by-side comparison of two sbp_bench builds: it runs both (a
# program or a build folder), prints one row per pair, and its NEW/OLD summary is the geometric
# mean of the pairs' ratios (recomputed here from the printed rows) within their range; a
# missing program, a bad pair count, an option bench/ab sets itself and a failing run are
# errors that name the cause. A tiny network on synthetic images: a few seconds.
NAME=bench_ab
source "$(dirname "$0")/common.bash"

AB=$SBP_SOURCE_DIR/bench/ab
BENCH=$SBP_BUILD_DIR/sbp_bench
tiny=(--net 28x28x1-4C5-P2-10 --data synthetic-mnist -T 4 --batch 2 --warmup 0 --iters 2)

# a build folder on one side, the program itself on the other
run bash "$AB" "$SBP_BUILD_DIR" "$BENCH" --pairs 3 "${tiny[@]}"
expect_rc 0 "bench/ab on one build twice"
printf '%s\n' "$OUT" >"$WORK/ab.txt"
check "bench/ab prints one row per pair" \
    [ "$(grep -cE '^[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$' "$WORK/ab.txt")" = 3 ]
# the summary lines against the rows: geometric mean of new/old, lowest and highest pair
check "bench/ab's summaries are the geometric means of the rows' ratios, within their range" \
    "$PY" - "$WORK/ab.txt" <<'EOF'
import math, re, sys
text = open(sys.argv[1]).read()
rows = [list(map(float, l.split()[1:])) for l in text.splitlines()
        if re.fullmatch(r"\d+( +[\d.]+){4}", l.strip())]
ok = len(rows) == 3
for name, o, n in (("medians", 0, 1), ("fastest batches", 2, 3)):
    m = re.search(r"new/old, %s: ([\d.]+) \(pairs ([\d.]+) – ([\d.]+)\)" % name, text)
    if not m:
        sys.exit(f"no summary of the {name}")
    g, lo, hi = map(float, m.groups())
    r = [row[n] / row[o] for row in rows]
    want = math.exp(sum(map(math.log, r)) / len(r))
    # the rows are printed to 2 decimals, the summaries to 3
    ok &= abs(g - want) <= 2e-3 + 0.01 * want
    ok &= abs(lo - min(r)) <= 2e-3 + 0.01 * min(r) and abs(hi - max(r)) <= 2e-3 + 0.01 * max(r)
    ok &= lo - 1e-3 <= g <= hi + 1e-3
sys.exit(0 if ok else 1)
EOF

run bash "$AB" "$WORK/no-such-program" "$BENCH" "${tiny[@]}"
expect_rc 1 "bench/ab with a missing program"
contains "$ERR" "no-such-program is not an executable sbp_bench" "the missing program is named"

run bash "$AB" "$BENCH" "$BENCH" --pairs 0 "${tiny[@]}"
expect_rc 2 "bench/ab --pairs 0"
contains "$ERR" "--pairs '0' is not a positive number" "a bad pair count is named"

run bash "$AB" "$BENCH" "$BENCH" "${tiny[@]}" --threads 2
expect_rc 2 "bench/ab with --threads"
contains "$ERR" "--threads is set by bench/ab itself" "bench/ab refuses the options it sets"

run bash "$AB" "$BENCH" "$BENCH" --pairs 1 --net no-such-net --data synthetic-mnist
expect_rc 1 "bench/ab when sbp_bench fails"
contains "$ERR" "bench/ab: a run failed" "a failing run is reported"
contains "$ERR" "sbp_bench: network:" "sbp_bench's own error is shown"

run bash "$AB"
expect_rc 2 "bench/ab without arguments"
contains "$ERR" "bench/ab OLD NEW" "bench/ab without arguments prints its usage"
run bash "$AB" --help
expect_rc 0 "bench/ab --help"
contains "$OUT" "Without two cores" "bench/ab --help prints the whole of its header"
check "bench/ab --help prints no code" [ "$(printf '%s\n' "$OUT" | grep -c 'set -uo')" = 0 ]

finish
