#!/usr/bin/env python3
"""Prints the numbers tests/test_datasets.c asserts about the real data files in this folder,
computed with NumPy from their raw bytes (not with spikebp's loaders). Run from anywhere:
    /usr/bin/python3 tests/data/expected_values.py
and paste what changed into the test when a file here is replaced.

CIFAR-10 binary: records of 1 label byte + 3,072 pixel bytes (R, G, B planes, each 32x32
row-major). N-MNIST: events of 5 bytes (x, y, polarity bit + 23-bit timestamp in microseconds),
binned into T frames over [first, last] timestamp as in docs/method.md and the loader's comment."""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def cifar(name):
    rec = np.fromfile(os.path.join(HERE, "cifar-10-slice", name), np.uint8).reshape(-1, 3073)
    return rec[:, 0].astype(np.int64), rec[:, 1:].reshape(-1, 3, 32, 32).astype(np.int64)


tr_lab, tr_px = cifar("data_batch_1.bin")
te_lab, te_px = cifar("test_batch.bin")
print("cifar counts", len(tr_lab), len(te_lab))
print("tr_first", tr_lab[:10].tolist())
print("te_first", te_lab[:10].tolist())
print("tr_counts", np.bincount(tr_lab, minlength=10).tolist())
print("te_counts", np.bincount(te_lab, minlength=10).tolist())
for i, c, y, x in ((0, 0, 0, 0), (0, 1, 5, 7), (0, 2, 31, 31), (-1, 0, 16, 3), (-1, 2, 0, 31)):
    print(f"pixel i={i} c={c} y={y} x={x}: train {tr_px[i, c, y, x]} test {te_px[i, c, y, x]}")
print("tr_last_sum", tr_px[-1].reshape(3, -1).sum(1).tolist())
print("te_last_sum", te_px[-1].reshape(3, -1).sum(1).tolist())
print("train pixel total", int(tr_px.sum()))
print("boundary: last train label", tr_lab[-1], "first test label", te_lab[0])

ev = np.fromfile(os.path.join(HERE, "n-mnist", "sample_nmnist.bin"), np.uint8)
b = ev.reshape(-1, 5).astype(np.int64)
x, y, p = b[:, 0], b[:, 1], b[:, 2] >> 7
ts = ((b[:, 2] & 0x7F) << 16) | (b[:, 3] << 8) | b[:, 4]
print("nmnist events", len(b), "timestamps", ts.min(), ts.max())
for T in (8, 1, 100):
    fr = (ts - ts.min()) * T // (ts.max() - ts.min() + 1)
    S = np.zeros((T, 2, 34, 34), np.int8)
    S[fr, p, y, x] = 1
    if T == 8:
        print("T=8 counts per (frame, polarity)", S.reshape(T, 2, -1).sum(2).tolist())
        for k in (0, 2000, len(b) - 1):
            print(f"  event {k}: x {x[k]} y {y[k]} polarity {p[k]} frame {fr[k]}")
    elif T == 1:
        print("T=1 per polarity", S.reshape(2, -1).sum(1).tolist())
    else:
        print("T=100 total", int(S.sum()))
