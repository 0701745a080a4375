#!/usr/bin/env bash
# clang.sh — the library built with clang instead of GCC: configure (no CUDA, to keep it short),
# build the tool and two test programs, and run those — test_spec (SPEC.md §7's worked values
# and the paper's equations) and test_kernels (every fast kernel against the reference loops) —
# compiled by clang. Guards what once broke only there: the multi-versioned (SBP_HOT) functions
# the library exports, whose resolvers clang 14 left undefined, so nothing linked.
# Exits 77 (ctest: skipped) when clang is not installed (`apt-get install clang` to run it).
set -uo pipefail
NAME=clang
source "$(dirname "$0")/common.bash"
SRC=${SBP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CLANG=$(command -v clang || true)
if [[ -z $CLANG ]]; then
    echo "clang: SKIPPED — clang is not installed (apt-get install clang)"
    exit 77
fi
if [[ ${SBP_SANITIZE:-OFF} == ON ]]; then
    echo "clang: SKIPPED in the sanitizer build (the plain build runs it)"
    exit 77
fi
B=$WORK/build
run env CC="$CLANG" cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release -DSBP_CUDA=OFF
expect_rc 0 "configure with CC=$CLANG"
[[ $RC == 0 ]] || { finish; exit 1; }
check "the build's C compiler is clang (CMakeCache.txt)" \
    grep -q "^CMAKE_C_COMPILER:FILEPATH=.*clang" "$B/CMakeCache.txt"
run cmake --build "$B" -j "${JOBS:-2}" --target spikebp_cli test_spec test_kernels
expect_rc 0 "build spikebp, test_spec and test_kernels with clang"
[[ $RC == 0 ]] || { echo "${OUT: -2000}" >&2; finish; exit 1; }
run "$B/spikebp" --version
expect_rc 0 "the clang-built spikebp --version"
contains "$OUT" "spikebp " "spikebp --version names the tool"
for t in test_spec test_kernels; do
    run "$B/$t"
    expect_rc 0 "$t built with clang"
    [[ $RC == 0 ]] || echo "${OUT: -1500}" >&2
done
finish
