#!/usr/bin/python3
"""fuzz/make_garbage.py — the seeds of issue 10 ("no silent garbage"): files that are well formed
but hold what no loader may accept, derived from seeds make_corpus.py/.c already wrote, so the
fuzzers start at these shapes and test_fuzz_corpus replays them:

  model     non-finite weights; metadata spikebp reads (timesteps, epochs, accuracies, backward,
            data) out of range or not a number; a repeated key or line; an infinite constant —
            all in fuzz/regressions/model (each was loaded before); the boundary values that
            must still load in fuzz/corpus/model/meta_bounds
  svhn      a variable whose data holds fewer or more bytes than its declared dimensions, plain
            and zlib-compressed, or is cut by the end of the file (fuzz/regressions/svhn)
  npz       two members of the same name (fuzz/regressions/npz)
  netfile   a second [neuron] section, a UTF-8 byte-order mark (fuzz/corpus/netfile)

Deterministic: rerunning gives the same bytes.

    /usr/bin/python3 fuzz/make_garbage.py
"""
import io
import os
import struct
import warnings
import zipfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def put(kind, target, name, data):
    d = os.path.join(HERE, kind, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def read(target, name):
    with open(os.path.join(HERE, "corpus", target, name), "rb") as f:
        return f.read()


# ---------------------------------------------------------------- model files
def with_crc(b):
    return b[:-4] + struct.pack("<I", zlib.crc32(b[:-4]) & 0xFFFFFFFF)


def edit_description(b, old, new):
    n = struct.unpack("<I", b[16:20])[0]
    desc = b[20:20 + n].decode()
    assert old in desc, (old, desc)
    desc = desc.replace(old, new, 1).encode()
    return with_crc(b[:16] + struct.pack("<I", len(desc)) + desc + b[20 + n:])


def set_float(b, index, value):
    """The model with weight number `index` of its first tensor (negative: from the end of the
    last tensor) set to `value`."""
    n = struct.unpack("<I", b[16:20])[0]
    at = 20 + n + 4  # first tensor: name length, name, dtype, ndim, dims, data
    nl = struct.unpack("<I", b[at:at + 4])[0]
    ndim = struct.unpack("<I", b[at + 4 + nl + 4:at + 4 + nl + 8])[0]
    data = at + 4 + nl + 8 + 4 * ndim
    pos = data + 4 * index if index >= 0 else len(b) - 4 + 4 * index
    return with_crc(b[:pos] + struct.pack("<f", value) + b[pos + 4:])


MODEL = read("model", "dense_meta")  # input 2 3 3, dense 4, output 2; timesteps 100, data mnist
put("regressions", "model", "nan-weight-first", set_float(MODEL, 0, float("nan")))
put("regressions", "model", "inf-weight-last", set_float(MODEL, -1, float("inf")))
put("regressions", "model", "minus-inf-weight", set_float(MODEL, 5, float("-inf")))
for name, old, new in [
    ("meta-timesteps-abc", "meta timesteps 100", "meta timesteps abc"),
    ("meta-timesteps-0", "meta timesteps 100", "meta timesteps 0"),
    ("meta-timesteps-1.5", "meta timesteps 100", "meta timesteps 1.5"),
    ("meta-timesteps-huge", "meta timesteps 100", "meta timesteps 100001"),
    ("meta-epochs-negative", "meta data mnist", "meta data mnist\nmeta epochs -3"),
    ("meta-accuracy-nan", "meta data mnist", "meta data mnist\nmeta test_accuracy nan"),
    ("meta-accuracy-above-1", "meta data mnist", "meta data mnist\nmeta val_accuracy 1.01"),
    ("meta-backward-unknown", "meta data mnist", "meta data mnist\nmeta backward sideways"),
    ("meta-data-empty", "meta data mnist", "meta data "),
    ("meta-key-twice", "meta data mnist", "meta data mnist\nmeta data cifar10"),
    ("neuron-line-twice", "input 2 3 3\n", "input 2 3 3\nneuron leak=1 vth=1 vth_pool=1 init_gain=1\n"),
    ("input-line-twice", "input 2 3 3\n", "input 2 3 3\ninput 2 3 3\n"),
    ("vth-inf", "vth=1 ", "vth=inf "),
    ("leak-nan", "leak=0.99000001", "leak=nan"),
    ("dropout-nan", "dropout=0\nlayer output", "dropout=nan\nlayer output"),
]:
    put("regressions", "model", name, edit_description(MODEL, old, new))
put("corpus", "model", "meta_bounds",
    edit_description(MODEL, "meta timesteps 100", "meta timesteps 100000\nmeta epochs 1\n"
                     "meta test_accuracy 1\nmeta val_accuracy 0\nmeta backward aggregate"))


# ---------------------------------------------------------------- SVHN MAT files
def mat_elements(b):
    """(offset, bytes) of each top-level element after the 128-byte header (uncompressed)."""
    out, at = [], 128
    while at + 8 <= len(b):
        n = struct.unpack("<I", b[at + 4:at + 8])[0]
        whole = 8 + n + (-n % 8)
        out.append((at, b[at:at + whole]))
        at += whole
    return out


def mat_compress(b):
    out = bytearray(b[:128])
    for _, e in mat_elements(b):
        z = zlib.compress(e, 6)
        out += struct.pack("<II", 15, len(z)) + z
    return bytes(out)


MAT = read("svhn", "two_double_v5")  # X 32x32x3x2 uint8, y 2x1 double, uncompressed
(x_at, x), (y_at, y) = mat_elements(MAT)
assert struct.unpack("<4I", MAT[x_at + 32:x_at + 48]) == (32, 32, 3, 2)


def patch_u32(b, at, v):
    return b[:at] + struct.pack("<I", v) + b[at + 4:]


x3 = patch_u32(patch_u32(MAT, x_at + 44, 3), y_at + 32, 3)  # X and y declare 3, hold 2
put("regressions", "svhn", "uninit-x-declares-3-images-holds-2", x3)
put("regressions", "svhn", "uninit-x-declares-3-images-holds-2-zlib", mat_compress(x3))
y3 = patch_u32(MAT, y_at + 32, 3)  # y declares 3 labels, holds 2
put("regressions", "svhn", "uninit-y-declares-3-labels-holds-2", y3)
x1 = patch_u32(MAT, x_at + 44, 1)  # X declares 1 image, holds 2: data longer than declared
put("regressions", "svhn", "x-declares-1-image-holds-2-zlib", mat_compress(x1))
put("regressions", "svhn", "x-data-cut-by-end-of-file", MAT[:x_at + 8 + 56 + 3072 + 100])


# ---------------------------------------------------------------- npz, netfile
def npy_bytes(a):
    f = io.BytesIO()
    np.save(f, a)
    return f.getvalue()


warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is asked for
f = io.BytesIO()
x_npy = npy_bytes(np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 1, 4, 4))
with zipfile.ZipFile(f, "w") as z:
    for name, data in [("x.npy", x_npy), ("x.npy", x_npy),
                       ("y.npy", npy_bytes(np.array([0, 1], dtype=np.int64)))]:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        z.writestr(info, data)
put("regressions", "npz", "duplicate-member-x", f.getvalue())

put("corpus", "netfile", "neuron_twice",
    "[input]\nshape = 8x8x1\n[neuron]\nleak = 0.9\n[neuron]\nthreshold = 2\n[output]\nclasses = 2\n")
put("corpus", "netfile", "bom", "\ufeff[input]\nshape = 8x8x1\n[output]\nclasses = 2\n")
print("fuzz/make_garbage.py: wrote the issue-10 seeds")
