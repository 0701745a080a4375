#!/usr/bin/env bash
# fuzz/build.sh — builds every fuzz target fuzz/fuzz_*.c as a libFuzzer binary with ASan and
# UBSan (UB aborts, so the fuzzer reports it), into fuzz/build/. The library sources are
# compiled once with the same sanitizers plus libFuzzer's coverage instrumentation, archived,
# and linked into each target. Needs clang and its fuzzer runtime (Debian: clang,
# libclang-rt-14-dev; clang's OpenMP: libomp-dev).
#
#   fuzz/build.sh            build what is out of date (objects older than a source or header)
#   fuzz/build.sh clean      remove fuzz/build first
#   CC=clang-15 fuzz/build.sh
#
# A library file that does not compile (someone is editing it) is reported and left out; the
# targets that need it then fail to link and are reported, and the others are still built.
set -uo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-clang}
OUT=fuzz/build
[ "${1:-}" = clean ] && rm -rf "$OUT"
mkdir -p "$OUT/obj"

if ! command -v "$CC" >/dev/null; then
  echo "fuzz/build.sh: $CC not found (apt-get install clang libclang-rt-14-dev libomp-dev)" >&2
  exit 1
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' |
     "$CC" -x c -fsanitize=fuzzer - -o "$OUT/.probe" 2>/dev/null; then
  echo "fuzz/build.sh: $CC cannot link -fsanitize=fuzzer (Debian 12: apt-get install libclang-rt-14-dev)" >&2
  exit 1
fi
rm -f "$OUT/.probe"

PKG_CFLAGS=$(pkg-config --cflags openblas matio libzip)
PKG_LIBS=$(pkg-config --libs openblas matio libzip)
# HDF5 (optional, as in CMakeLists.txt): with it fuzz_nir reaches the NIR reader in src/io/nir_read.c and nir_graph.c
if pkg-config --exists hdf5; then
  PKG_CFLAGS="$PKG_CFLAGS -DSBP_HAVE_HDF5 $(pkg-config --cflags hdf5)"
  PKG_LIBS="$PKG_LIBS $(pkg-config --libs hdf5)"
fi
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -g -O1 -fopenmp -D_XOPEN_SOURCE=700 -Wall -Wno-unused-parameter -Iinclude -Isrc $PKG_CFLAGS"
LIBS="-fopenmp $PKG_LIBS -lz -lm"

# newest header: an object older than it is rebuilt
newest_header=$(find include src fuzz -name '*.h' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2)

objs=()
bad_src=0
for src in $(find src -name '*.c' | sort); do
  obj="$OUT/obj/$(echo "${src#src/}" | tr / _ | sed 's/\.c$/.o/')"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
    if ! nice -n 10 "$CC" $CFLAGS $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj" 2>"$obj.log"; then
      echo "fuzz/build.sh: $src does not compile (left out; see $obj.log)" >&2
      rm -f "$obj"
      bad_src=$((bad_src + 1))
      continue
    fi
  fi
  objs+=("$obj")
done
rm -f "$OUT/libspikebp-fuzz.a"
ar rcs "$OUT/libspikebp-fuzz.a" "${objs[@]}"

built=0 failed=0
for t in fuzz/fuzz_*.c; do
  name=$(basename "$t" .c)
  if nice -n 10 "$CC" $CFLAGS $SAN -fsanitize=fuzzer "$t" "$OUT/libspikebp-fuzz.a" $LIBS \
       -o "$OUT/$name" 2>"$OUT/$name.log"; then
    echo "built $OUT/$name"
    built=$((built + 1))
  else
    echo "fuzz/build.sh: $name failed to build (see $OUT/$name.log)" >&2
    failed=$((failed + 1))
  fi
done
echo "fuzz/build.sh: $built targets built, $failed failed, $bad_src library files left out"
[ "$failed" -eq 0 ] && [ "$bad_src" -eq 0 ]
