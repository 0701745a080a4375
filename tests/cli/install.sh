#!/usr/bin/env bash
# tests/cli/install.sh — `make install` as a user meets it: installs this build into a
# temporary prefix (cmake --install, what `make install PREFIX=… DESTDIR=…` runs), checks the
# installed tree (static and shared library with its versioned soname, header, pkg-config and
# CMake package files, the tool, the man page), then builds tests/install/tiny.c — a program
# that trains a tiny network through the public API and fails unless the loss falls and the
# test accuracy is well above chance — against the installed files only:
#   - with `cc $(pkg-config --cflags --libs spikebp)` (shared library, run with
#     LD_LIBRARY_PATH) and with `pkg-config --static` (the static library alone);
#   - as a CMake project with find_package(spikebp): spikebp::spikebp and
#     spikebp::spikebp_static;
# and renders the man page. In a sanitizer build the programs are built with the same
# sanitizers. Prints "install: N passed, M failed".
set -euo pipefail

NAME=install
. "$(dirname "$0")/common.bash"
SRC=${SBP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SBP_BUILD_DIR:?SBP_BUILD_DIR must be the build folder (ctest sets it)}
CC=${SBP_CC:-cc}
SAN=()
[[ ${SBP_SANITIZE:-OFF} == ON ]] && SAN=(-fsanitize=address,undefined -fno-omit-frame-pointer)
PREFIX=$WORK/prefix

# ------------------------------------------------------------------ install
run cmake --install "$BUILD" --prefix "$PREFIX"
expect_rc 0 "cmake --install into $PREFIX"
[[ $RC == 0 ]] || { finish; exit 1; }
# pkg-config finds the prefix from the .pc file's own folder
pcdir=$(dirname "$(find "$PREFIX" -name spikebp.pc | head -n 1)")
check "spikebp.pc installed under LIBDIR/pkgconfig" test -f "$pcdir/spikebp.pc"
export PKG_CONFIG_PATH=$pcdir
run pkg-config --modversion spikebp
check "pkg-config --modversion: '$OUT', expected the tool's version" \
    test "$OUT" = "$("$SBP_CLI" --version | head -n 1 | cut -d' ' -f2)"
libdir=$(pkg-config --variable=libdir spikebp)
incdir=$(pkg-config --variable=includedir spikebp)
check "libdir $libdir is the folder above pkgconfig/" test "$(realpath "$libdir")" = "$(realpath "$pcdir/..")"
check "static library" test -f "$libdir/libspikebp.a"
check "libspikebp.so -> libspikebp.so.0" test "$(readlink "$libdir/libspikebp.so")" = libspikebp.so.0
check "libspikebp.so.0 -> libspikebp.so.0.1.0" \
    test "$(readlink "$libdir/libspikebp.so.0")" = libspikebp.so.0.1.0
check "libspikebp.so.0.1.0 is a file" test -f "$libdir/libspikebp.so.0.1.0" -a ! -L "$libdir/libspikebp.so.0.1.0"
soname=$(objdump -p "$libdir/libspikebp.so.0.1.0" | awk '$1 == "SONAME" {print $2}')
check "SONAME is libspikebp.so.0 (got '$soname')" test "$soname" = libspikebp.so.0
check "the shared library exports the API" \
    bash -c "nm -D --defined-only '$libdir/libspikebp.so.0.1.0' | grep -qw sbp_trainer_step"
check "header installed as in the source tree" cmp -s "$incdir/spikebp.h" "$SRC/include/spikebp.h"
check "CMake package files" test -f "$libdir/cmake/spikebp/spikebpConfig.cmake" \
    -a -f "$libdir/cmake/spikebp/spikebpConfigVersion.cmake"
check "the tool is installed" test -x "$PREFIX/bin/spikebp"
run "$PREFIX/bin/spikebp" info --net 8x8x1-8C3-P2-16FC-10 --json
expect_rc 0 "installed tool runs"
check "installed tool: parameter count $(json parameters)" test "$(json parameters)" = $((8 * 9 + 128 * 16 + 16 * 10))
check "spikebp.pc names neither CUDA's runtime nor the C++ runtime (the cuda plugin has them)" \
    bash -c "! grep -E 'cudart|stdc\+\+' '$pcdir/spikebp.pc'"
if [[ ${SBP_HAVE_CUDA:-FALSE} == TRUE ]]; then
    check "the cuda plugin is installed in LIBDIR" test -f "$libdir/libspikebp-cuda.so"
    # the installed tool finds it in its ../LIBDIR: only a device can be missing (exit 2 at
    # --epochs 0 once the backend is accepted)
    run "$PREFIX/bin/spikebp" train --net lenet --backend cuda --epochs 0
    check "the installed tool loads the installed plugin: ${ERR:0:300}" \
        bash -c '[[ $0 == *"no usable CUDA device"* || $0 == *"--epochs"* ]]' "$ERR"
else
    check "no cuda plugin in a build without CUDA" test ! -e "$libdir/libspikebp-cuda.so"
fi
check "no file of the installed tree names the build or source folder" \
    bash -c "! grep -rlF -e '$BUILD' -e '$SRC' '$PREFIX' --include='*.pc' --include='*.cmake'"
# DESTDIR stages the same tree under another root
run env DESTDIR="$WORK/stage" cmake --install "$BUILD" --prefix /opt/spikebp
expect_rc 0 "DESTDIR install"
check "DESTDIR: the tool lands under DESTDIR/PREFIX" test -x "$WORK/stage/opt/spikebp/bin/spikebp"
check "DESTDIR: same files as the plain install" \
    test "$(cd "$WORK/stage/opt/spikebp" && find . | sort)" = "$(cd "$PREFIX" && find . | sort)"

# ------------------------------------------------------------------ pkg-config
CFLAGS=(-std=c11 -Wall -Wextra -pedantic -Werror -O2 "${SAN[@]}")
# shellcheck disable=SC2046  # pkg-config output is a list of words
run "$CC" "${CFLAGS[@]}" "$SRC/tests/install/tiny.c" -o "$WORK/tiny_pc" \
    $(pkg-config --cflags --libs spikebp)
expect_rc 0 "cc tiny.c \$(pkg-config --cflags --libs spikebp)"
check "tiny_pc needs libspikebp.so.0" \
    bash -c "objdump -p '$WORK/tiny_pc' | grep -q 'NEEDED *libspikebp.so.0'"
mkdir -p "$WORK/run_pc"
run env LD_LIBRARY_PATH="$libdir" "$WORK/tiny_pc" "$WORK/run_pc"
expect_rc 0 "tiny (pkg-config, shared) trains: $OUT"
contains "$OUT" "tiny: loss" "tiny (pkg-config, shared) output"
results=("$OUT")
# the static library alone, with the dependencies of Requires.private and Libs.private
# shellcheck disable=SC2046
run "$CC" "${CFLAGS[@]}" "$SRC/tests/install/tiny.c" -o "$WORK/tiny_pc_static" \
    $(pkg-config --cflags spikebp) -Wl,--as-needed -l:libspikebp.a $(pkg-config --static --libs spikebp)
expect_rc 0 "cc tiny.c libspikebp.a \$(pkg-config --static --libs spikebp)"
check "tiny_pc_static does not need libspikebp.so" \
    bash -c "! objdump -p '$WORK/tiny_pc_static' | grep -q 'NEEDED *libspikebp'"
mkdir -p "$WORK/run_pc_static"
run "$WORK/tiny_pc_static" "$WORK/run_pc_static"
expect_rc 0 "tiny (pkg-config, static) trains: $OUT"
results+=("$OUT")

# ------------------------------------------------------------------ CMake find_package
run cmake -S "$SRC/tests/install" -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="${SAN[*]}"
expect_rc 0 "cmake configure with find_package(spikebp)"
run cmake --build "$WORK/cmake"
expect_rc 0 "cmake build against spikebp::spikebp and spikebp::spikebp_static"
for t in tiny_shared tiny_static; do
    mkdir -p "$WORK/run_$t"
    run env LD_LIBRARY_PATH="$libdir" "$WORK/cmake/$t" "$WORK/run_$t"
    expect_rc 0 "$t (CMake) trains: $OUT"
    results+=("$OUT")
done
check "tiny_shared (CMake) needs libspikebp.so.0" \
    bash -c "objdump -p '$WORK/cmake/tiny_shared' | grep -q 'NEEDED *libspikebp.so.0'"
check "tiny_static (CMake) does not need libspikebp.so" \
    bash -c "! objdump -p '$WORK/cmake/tiny_static' | grep -q 'NEEDED *libspikebp'"
# both libraries hold the same objects: the four programs train to the same numbers
check "the four builds print the same result: $(printf '[%s] ' "${results[@]}")" \
    test "${#results[@]}" = 4 -a "$(printf '%s\n' "${results[@]}" | sort -u | wc -l)" = 1

# ------------------------------------------------------------------ man page
page=$PREFIX/share/man/man1/spikebp.1
check "man page installed" test -f "$page"
if command -v man >/dev/null; then
    run env MANWIDTH=80 man -l "$page"
else
    run groff -man -Tutf8 "$page"
fi
expect_rc 0 "the man page renders"
contains "$OUT" "spikebp train" "rendered man page: synopsis"
contains "$OUT" "EXIT STATUS" "rendered man page: sections"
run groff -man -ww -z "$page"
check "groff reports no warnings for the man page: ${ERR:0:300}" test -z "$ERR"
run env MANPATH="$PREFIX/share/man" man -w spikebp
check "man finds the page under PREFIX/share/man ($OUT)" test "$OUT" = "$page"

finish
