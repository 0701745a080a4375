#!/usr/bin/env bash
# cuda_plugin.sh — the cuda backend as a plugin (src/backend/cuda/plugin.h, issue 14's memory):
#   - no program of the build (the tool, sbp_bench, the tests, libspikebp.so) links CUDA's
#     runtime or the C++ runtime, CUDA build or not;
#   - in a CUDA build, libspikebp-cuda.so sits next to them, links both, exports its entry
#     point only and needs no sbp_* symbol of the library;
#   - the loader (src/backend/cuda_loader.c) finds it next to the program, in the program's
#     ../lib, and nowhere when it is absent; a missing, foreign or non-ELF file named by
#     SBP_CUDA_PLUGIN is refused naming that file (SBP_ERR_UNSUPPORTED: exit 2);
#   - without CUDA, the build's own refusal.
# The backend is asked for by `spikebp train --backend cuda --epochs 0`: the check runs while
# the options are read, in order, so an accepted backend ends at the --epochs error instead
# (exit 2 as well, without touching any data).
NAME=cuda_plugin
source "$(dirname "$0")/common.bash"
BUILD=${SBP_BUILD_DIR:?SBP_BUILD_DIR must be the build folder (ctest sets it)}
PLUGIN=$BUILD/libspikebp-cuda.so
# Away from the build folder: the tools' build-tree RUNPATH ends in an empty entry (CMake's
# padding), which ld.so reads as the current folder, so a bare dlopen would find the plugin
# from there.
cd "$WORK" || exit 1

# links LIB FILE: ldd lists LIB for FILE
links() { ldd "$2" | grep -q "$1"; }
# ask [PROGRAM [VAR=VALUE…]]: the cuda backend through the tool (or a copy of it)
ask() {
    local prog=${1:-$SBP_CLI}
    shift || true
    run env "$@" "$prog" train --net lenet --backend cuda --epochs 0
}

for f in "$SBP_CLI" "$BUILD/sbp_bench" "$BUILD/libspikebp.so" "$BUILD/test_backend" \
         "$BUILD/test_train"; do
    [[ -e $f ]] || { fail "$f is missing: build first"; continue; }
    # its own needed libraries (readelf), not ldd's closure: a sanitized build's runtimes
    # (libasan, libubsan) bring libstdc++ with them, which is not ours
    check "$(basename "$f") does not link libcudart" bash -c "! ldd '$f' | grep -q libcudart"
    check "$(basename "$f") does not need libstdc++" \
        bash -c "! readelf -d '$f' | grep NEEDED | grep -q 'libstdc++'"
done

if [[ ${SBP_HAVE_CUDA:-FALSE} != TRUE ]]; then
    check "no plugin in a build without CUDA" test ! -e "$PLUGIN"
    ask
    expect_rc 2 "cuda in a build without CUDA is a usage error"
    contains "$ERR" "this build of spikebp has no CUDA backend" "the build's own refusal"
    finish
    exit
fi

# ------------------------------------------------------------------ the plugin itself
check "libspikebp-cuda.so is built next to the tool" test -f "$PLUGIN"
check "the plugin links libcudart" links libcudart "$PLUGIN"
check "the plugin links libstdc++" links 'libstdc++' "$PLUGIN"
exports=$(nm -D --defined-only "$PLUGIN" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort)
check "the plugin exports sbp_cuda_plugin_open only (got: $(echo $exports))" \
    test "$exports" = sbp_cuda_plugin_open
check "the plugin needs no sbp_* symbol from elsewhere" \
    bash -c "! nm -D --undefined-only '$PLUGIN' | grep -q ' sbp_'"

# ------------------------------------------------------------------ found from the build folder
ask
expect_rc 2 "train --backend cuda --epochs 0"
if [[ $ERR == *"--epochs"* ]]; then
    pass # a GPU: the backend was accepted, the --epochs error came next
else
    contains "$ERR" "backend cuda: no usable CUDA device" \
        "the plugin is found next to the tool, so only the device is missing"
fi
accepted_or_no_device() { [[ $ERR == *"--epochs"* || $ERR == *"no usable CUDA device"* ]]; }

# ------------------------------------------------------------------ a copy of the tool elsewhere
mkdir -p "$WORK/alone" "$WORK/tree/bin" "$WORK/tree/lib" "$WORK/side"
cp "$SBP_CLI" "$WORK/alone/spikebp"
# (not when a plugin is installed where this build's tool would look last)
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
if compgen -G "$prefix/lib*/libspikebp-cuda.so" >/dev/null ||
   compgen -G "$prefix/lib/*/libspikebp-cuda.so" >/dev/null; then
    echo "$NAME: a plugin is installed under $prefix: the 'not found' case is not checked"
else
    ask "$WORK/alone/spikebp" -u LD_LIBRARY_PATH
    expect_rc 2 "a copy of the tool without the plugin"
    contains "$ERR" "cannot load the CUDA plugin libspikebp-cuda.so (looked in: $WORK/alone" \
        "the message says where it looked"
    contains "$ERR" "cannot open shared object file" "and ld.so's reason"
    contains "$ERR" "; use --backend cpu" "and what to do"
fi
cp "$SBP_CLI" "$WORK/tree/bin/spikebp"
cp "$PLUGIN" "$WORK/tree/lib/"
ask "$WORK/tree/bin/spikebp"
check "an installed layout: bin/spikebp finds lib/libspikebp-cuda.so (${ERR:0:200})" \
    accepted_or_no_device
cp "$SBP_CLI" "$WORK/side/spikebp"
cp "$PLUGIN" "$WORK/side/"
ask "$WORK/side/spikebp"
check "the plugin next to the tool is found (${ERR:0:200})" accepted_or_no_device

# ------------------------------------------------------------------ SBP_CUDA_PLUGIN
ask "$SBP_CLI" SBP_CUDA_PLUGIN="$WORK/none/libspikebp-cuda.so"
expect_rc 2 "SBP_CUDA_PLUGIN naming a missing file"
contains "$ERR" "cannot load the CUDA plugin $WORK/none/libspikebp-cuda.so (SBP_CUDA_PLUGIN)" \
    "the message names the file and where it came from"
contains "$ERR" "No such file or directory" "and why"
ask "$SBP_CLI" SBP_CUDA_PLUGIN="$BUILD/libspikebp.so"
expect_rc 2 "SBP_CUDA_PLUGIN naming a shared library that is not the plugin"
contains "$ERR" "cannot load the CUDA plugin $BUILD/libspikebp.so (SBP_CUDA_PLUGIN)" "names it"
contains "$ERR" "not a spikebp CUDA plugin" "and says what is wrong"
contains "$ERR" "sbp_cuda_plugin_open" "naming the missing entry point"
printf 'not an ELF file\n' >"$WORK/fake.so"
ask "$SBP_CLI" SBP_CUDA_PLUGIN="$WORK/fake.so"
expect_rc 2 "SBP_CUDA_PLUGIN naming a file that is no shared library"
contains "$ERR" "cannot load the CUDA plugin $WORK/fake.so (SBP_CUDA_PLUGIN): $WORK/fake.so:" \
    "names it, then dlerror's reason"
# an explicit choice is not passed over for the plugin next to the tool
ask "$WORK/side/spikebp" SBP_CUDA_PLUGIN="$WORK/fake.so"
contains "$ERR" "$WORK/fake.so" "SBP_CUDA_PLUGIN wins over the plugin next to the tool"
ask "$SBP_CLI" SBP_CUDA_PLUGIN="$PLUGIN"
check "SBP_CUDA_PLUGIN naming the plugin loads it (${ERR:0:200})" accepted_or_no_device
finish
