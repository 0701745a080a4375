#!/usr/bin/env bash
# conv_real.sh — the cpu backend's convolutions on real spike trains against the reference
# backend (the oracle): `build/conv_real --check` runs LeNet on MNIST test images and VGG9 on the
# CIFAR-10 slice, keeps the spikes each convolution receives from the spiking layer below, and
# compares the cpu backend's forward and exact backward (dW, dx) with the reference backend's on
# every chunk of them, and the aggregate backward on each sample's spike counts (values up to
# T) — the event kernels' orders and forms (the column form, the pixel blocks, the weight
# gradient in registers) on the clustered events of real images, which tests/test_kernels.c
# feeds random ones. It exits 3 past the backend tests' tolerance (2e-5 of
# the largest magnitude). Needs MNIST (scripts/get-data mnist), as the other CLI tests.
NAME=conv_real
source "$(dirname "$0")/common.bash"
SRC=${SBP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${SBP_BUILD_DIR:-$(dirname "$SBP_CLI")}/conv_real

check "build/conv_real exists" [ -x "$BIN" ]
[[ -x $BIN ]] || { finish; exit 1; }

# LeNet, its initial weights: the second convolution (20 -> 50, the column form forward)
run "$BIN" --net lenet --images 2 --reps 1 -T 12 --check
expect_rc 0 "LeNet's second convolution matches the reference on real spike trains"
contains "$OUT" "check against the reference backend" "LeNet: the check ran"
contains "$OUT" "20->50 k5 14x14" "LeNet: its spike-fed convolution was timed and checked"
[[ $RC == 0 ]] || echo "${OUT: -1500}" >&2

# VGG9, its initial weights: six spike-fed convolutions (64 to 256 channels: the pixel-block
# forward, the weight gradient in registers for 64 channels, the scatter beyond); 16 steps so
# that the deepest layers spike
run "$BIN" --net vgg9 --data "cifar10:$SRC/tests/data/cifar-10-slice" --images 1 --reps 1 \
    -T 16 --check
expect_rc 0 "VGG9's convolutions match the reference on real spike trains"
rows=$(printf '%s\n' "$OUT" | sed -n '/check against the reference/,$p' | grep -cE '^[0-9]+ ')
check "VGG9: six layers checked (got $rows)" [ "$rows" = 6 ]
[[ $RC == 0 ]] || echo "${OUT: -1500}" >&2

# a usage error is one
run "$BIN" --net nonsense
expect_rc 2 "an unknown network is a usage error"
finish
