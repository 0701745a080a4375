#!/usr/bin/python3
"""fuzz/make_corpus.py — writes the seed corpus fuzz/corpus/<target>/ for the targets whose
seeds need no library: IDX pairs, CIFAR-10 records, N-MNIST recordings, .npy pairs and .npz
archives (NumPy), network notations and descriptions. Seeds are small valid files plus
near-valid ones (one field off), so the fuzzer starts at the interesting boundaries. The model
files, MAT files and exported weight archives come from fuzz/make_corpus.c (it uses the
library and libmatio). Deterministic: rerunning gives the same bytes.

    /usr/bin/python3 fuzz/make_corpus.py
"""
import gzip
import io
import os
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
rng = np.random.default_rng(1234)


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def split(a, b):
    """The two-file layout of fuzz_split: u32 LE length of part one, part one, part two."""
    return struct.pack("<I", len(a)) + a + b


def gz(b):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as g:
        g.write(b)
    return out.getvalue()


# ---------------------------------------------------------------- IDX
def idx(magic, dims, body):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + body


def idx_pair(n, h, w):
    img = idx(0x803, [n, h, w], rng.integers(0, 256, n * h * w, dtype=np.uint8).tobytes())
    lab = idx(0x801, [n], rng.integers(0, 10, n, dtype=np.uint8).tobytes())
    return img, lab


img, lab = idx_pair(3, 4, 5)
put("idx", "raw_3x4x5", split(img, lab))
put("idx", "gz_both", split(gz(img), gz(lab)))
put("idx", "gz_images", split(gz(img), lab))
put("idx", "gz_truncated", split(gz(img)[:-6], lab))
img1, lab1 = idx_pair(1, 1, 1)
put("idx", "one_pixel", split(img1, lab1))
put("idx", "swapped", split(lab, img))
put("idx", "count_mismatch", split(img, idx(0x801, [2], b"\x01\x02")))
put("idx", "bad_label", split(img1, idx(0x801, [1], b"\x0a")))
put("idx", "trailing", split(img + b"\x00", lab))
put("idx", "truncated", split(img[:-1], lab))
put("idx", "zero_dim", split(idx(0x803, [0, 4, 5], b""), idx(0x801, [0], b"")))
put("idx", "huge_claim", split(idx(0x803, [60000, 65535, 65535], b"\x00" * 8), lab))
put("idx", "gz_huge_claim", split(gz(idx(0x803, [60000, 28, 28], b"\x00" * 64)), lab))
put("idx", "gz_in_gz", split(gz(gz(img)), lab))
put("idx", "gz_two_members", split(gz(img[:10]) + gz(img[10:]), gz(lab)))
put("idx", "four_dims", split(idx(0x804, [1, 2, 2, 2], bytes(8)), lab1))

# ---------------------------------------------------------------- CIFAR-10
def cifar(labels):
    out = b""
    for l in labels:
        out += bytes([l]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes()
    return out


put("cifar", "two_records", cifar([3, 9]))
put("cifar", "one_record", cifar([0]))
put("cifar", "bad_label", cifar([10]))
put("cifar", "cifar100_record", cifar([1]) + b"\x05")
put("cifar", "short", cifar([1])[:3000])
put("cifar", "gzip", gz(cifar([2])))
put("cifar", "pickle_head", b"\x80\x02}q\x00" + bytes(3068))

# ---------------------------------------------------------------- N-MNIST
def events(ev):
    """ev: (x, y, polarity, ts) tuples -> 5-byte records."""
    out = b""
    for x, y, p, ts in ev:
        out += bytes([x, y, (p << 7) | ((ts >> 16) & 0x7F), (ts >> 8) & 0xFF, ts & 0xFF])
    return out


rec = events([(int(rng.integers(0, 34)), int(rng.integers(0, 34)), int(rng.integers(0, 2)),
               int(t)) for t in sorted(rng.integers(0, 300000, 40))])
put("nmnist", "t10_40events", bytes([9]) + rec)
put("nmnist", "t1_one_event", bytes([0]) + events([(5, 6, 1, 1234)]))
put("nmnist", "t256_same_time", bytes([255]) + events([(1, 2, 0, 77), (33, 33, 1, 77)]))
put("nmnist", "t100_full_span", bytes([99]) + events([(0, 0, 0, 0), (33, 33, 1, 0x7FFFFF)]))
put("nmnist", "x_out_of_range", bytes([9]) + events([(34, 0, 0, 5)]))
put("nmnist", "truncated_event", bytes([9]) + rec[:-2])
put("nmnist", "unordered", bytes([3]) + events([(1, 1, 1, 900), (2, 2, 0, 100), (3, 3, 1, 500)]))

# ---------------------------------------------------------------- .npy
def npy(a, version=None):
    f = io.BytesIO()
    if version is None:
        np.save(f, a)
    else:
        np.lib.format.write_array(f, a, version=version)
    return f.getvalue()


x3 = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
x4 = rng.integers(0, 256, (2, 3, 5, 5), dtype=np.uint8)
spk = rng.integers(-1, 2, (2, 3, 1, 3, 3), dtype=np.int8)
put("npy", "img3_labels_u1", split(npy(x3), npy(np.array([0, 1, 2], dtype=np.uint8))))
put("npy", "img4_labels_i8", split(npy(x4), npy(np.array([4, 0], dtype=np.int64))))
put("npy", "spikes_i1_i4", split(npy(spk), npy(np.array([1, 0], dtype=np.int32))))
put("npy", "spikes_bool_u2", split(npy(spk != 0), npy(np.array([1, 1], dtype=np.uint16))))
put("npy", "v2_header", split(npy(x3, (2, 0)), npy(np.array([0, 1, 1], dtype=np.int16), (3, 0))))
put("npy", "f4_labels", split(npy(x3), npy(np.array([0.0, 1.0, 2.0], dtype=np.float32))))
put("npy", "f8_matrix", split(npy(rng.standard_normal((2, 3))), npy(np.array(7, dtype=np.uint64))))
put("npy", "big_endian", split(npy(np.arange(4, dtype=">i4")), b""))
put("npy", "fortran", split(npy(np.asfortranarray(rng.integers(0, 9, (3, 2), dtype=np.uint8))), b""))
put("npy", "zero_size", split(npy(np.zeros((0, 4, 4), dtype=np.uint8)), npy(np.zeros(0, dtype=np.int8))))
put("npy", "label_300", split(npy(x3[:1]), npy(np.array([300], dtype=np.int32))))
put("npy", "spike_value_2", split(npy(np.full((1, 1, 1, 2, 2), 2, dtype=np.uint8)), npy(np.array([0], dtype=np.uint8))))
put("npy", "truncated", split(npy(x3)[:-3], npy(np.array([0, 1, 2], dtype=np.uint8))))
put("npy", "header_py2_long", split(
    b"\x93NUMPY\x01\x00" + struct.pack("<H", 70) +
    b"{'descr': '|u1', 'fortran_order': False, 'shape': (1L, 2L, 2L), }".ljust(69) + b"\n" +
    bytes(4), npy(np.array([1], dtype=np.uint8))))
put("npy", "structured", split(npy(np.zeros(2, dtype=[("a", "<i4"), ("b", "<f4")])), b""))

# ---------------------------------------------------------------- .npz
def npz(arrays, compress=False):
    f = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(f, **arrays)
    return f.getvalue()


put("npz", "images", npz({"x": x3, "y": np.array([0, 1, 2], dtype=np.int64)}))
put("npz", "spikes_deflate", npz({"x": spk, "y": np.array([3, 1], dtype=np.uint8)}, True))
put("npz", "missing_y", npz({"x": x3}))
put("npz", "extra_member", npz({"x": x4, "y": np.array([1, 0], dtype=np.int16), "z": np.arange(3)}))
# a member named without ".npy", as some writers do
f = io.BytesIO()
with zipfile.ZipFile(f, "w") as z:
    z.writestr("x", npy(x3))
    z.writestr("y", npy(np.array([2, 2, 2], dtype=np.uint8)))
put("npz", "bare_names", f.getvalue())
put("npz", "not_zip", npy(x3))

# ---------------------------------------------------------------- notation
for name, text in [
    ("lenet", "28x28x1-20C5-P2-50C5-P2-200FC-10"),
    ("strided", "32x32x3-64C3/2-128C3-P2-1024FC-10"),
    ("minimal", "1x1x1-2"),
    ("even_kernel", "8x8x2-4C4-P2-3"),
    ("dense_only", "10x10x1-100FC-50FC-10"),
    ("too_big", "65537x65537x1-1000000C64-P2-10"),
    ("kernel_too_big", "4x4x1-2C9-10"),
    ("trailing_dash", "28x28x1-20C5-"),
    ("after_output", "28x28x1-10-20C5"),
    ("bad_token", "28x28x1-20K5-10"),
    ("many_layers", "64x64x1" + "-P2" * 6 + "-4C3" * 56 + "-10"),
]:
    put("spec", name, text)

# ---------------------------------------------------------------- network descriptions
NETS = {
    "lenet": "[input]\nshape = 28x28x1\n[conv]\nfilters = 20\nkernel = 5\n[pool]\n"
             "[conv]\nfilters = 50\nkernel = 5\n[pool]\n[dense]\nunits = 200\n[output]\nclasses = 10\n",
    "residual": "# a residual block\n[input]\n  shape = 8x8x2   # H x W x C\n"
                "[neuron]\nleak = 0.95\nthreshold = 1.5\npool_threshold = 0.5\ninit_gain = 1\n"
                "[conv]\nname = a\nfilters = 4\nkernel = 3\ndropout = 0.25\n"
                "[conv]\nfilters = 4\nkernel = 3\n"
                "[conv]\nfilters = 6\nkernel = 3\nstride = 2\nshortcut = conv\nfrom = a\nname = b\n"
                "[conv]\nfilters = 6\nkernel = 3\nshortcut = identity\nfrom = b\n"
                "[conv]\nfilters = 6\nkernel = 3\nstride = 2\nshortcut = subsample\nfrom = b\n"
                "[pool]\nname = p\n[dense]\nunits = 7\ndropout = 0.5\nname = d\n[output]\nclasses = 3\n",
    "input_shortcut": "[input]\nshape = 8x8x2\n[conv]\nfilters = 2\nkernel = 5\npad = 2\n"
                      "shortcut = identity\nfrom = input\n[output]\nclasses = 2\n",
    "pad_zero": "[input]\nshape=6x6x1\n[conv]\nfilters=3\nkernel=3\npad=0\n[output]\nclasses=2",
    "crlf": "[input]\r\nshape = 4x4x1\r\n[output]\r\nclasses = 2\r\n",
    "unknown_key": "[input]\nshape = 8x8x1\n[conv]\nfilters = 4\nkernel = 3\nkernal = 3\n",
    "twice": "[input]\nshape = 8x8x1\n[dense]\nunits = 4\nunits = 5\n[output]\nclasses = 2\n",
    "bad_from": "[input]\nshape = 8x8x1\n[conv]\nfilters = 4\nkernel = 3\nshortcut = conv\n"
                "from = zz\n[output]\nclasses = 2\n",
    "after_output": "[input]\nshape = 8x8x1\n[output]\nclasses = 2\n[dense]\nunits = 3\n",
    "no_output": "[input]\nshape = 8x8x1\n[dense]\nunits = 4\n",
    "bad_section": "[input\nshape = 8x8x1\n",
    "neuron_range": "[input]\nshape = 8x8x1\n[neuron]\nleak = 1.5\n[output]\nclasses = 2\n",
    "long_line": "[input]\nshape = 8x8x1\n# " + "x" * 600 + "\n[output]\nclasses = 2\n",
}
for name, text in NETS.items():
    put("netfile", name, text)

total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(CORPUS) for f in fs)
print(f"fuzz/make_corpus.py: corpus now {total} bytes")
