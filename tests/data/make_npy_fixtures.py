#!/usr/bin/env python3
"""Writes the tiny NumPy fixtures of tests/test_datasets.c with NumPy itself (not with spikebp),
so that the C reader is checked against files NumPy wrote. Run from this folder:
    /usr/bin/python3 make_npy_fixtures.py
The values are formulas the C test recomputes; keep every array tiny."""
import numpy as np

img4 = (np.arange(24) * 10 % 256).astype(np.uint8).reshape(4, 1, 3, 2)   # (N, C, H, W)
img3 = (255 - np.arange(24)).astype(np.uint8).reshape(4, 3, 2)           # (N, H, W)
lab = np.array([0, 2, 1, 2])
spk = ((np.arange(24) % 3) - 1).astype(np.int8).reshape(3, 2, 1, 2, 2)   # (N, T, C, H, W)
spkb = (np.arange(24) % 2 == 1).reshape(3, 2, 1, 2, 2)
lab3 = np.array([1, 0, 1], dtype=np.int64)

np.save("npy_img4_u1.npy", img4)
np.save("npy_img3_u1.npy", img3)
np.save("npy_lab_i8.npy", lab.astype("<i8"))
np.save("npy_lab_u1.npy", lab.astype("|u1"))
np.save("npy_lab_i4.npy", lab.astype("<i4"))
np.save("npy_lab_f8.npy", lab.astype("<f8"))          # labels of a float dtype: refused
np.save("npy_spk_i1.npy", spk)
np.save("npy_spk_b1.npy", spkb)
np.save("npy_lab3_i8.npy", lab3)
np.save("npy_be_i4.npy", lab.astype(">i4"))           # big-endian: refused
np.save("npy_fortran_u1.npy", np.asfortranarray(np.arange(6, dtype=np.uint8).reshape(2, 3)))
with open("npy_v2_u1.npy", "wb") as f:                # format version 2.0
    np.lib.format.write_array(f, img4, version=(2, 0))
with open("npy_v3_i8.npy", "wb") as f:                # format version 3.0
    np.lib.format.write_array(f, lab.astype("<i8"), version=(3, 0))
# reference bytes for the writer: np.save of known float32 arrays
np.save("npy_f4_ref.npy", np.array([[0.5, -1.25, 3.0], [1e-3, 2.0 ** 20, -0.0]], dtype="<f4"))
np.save("npy_f4_1d.npy", np.arange(5, dtype="<f4"))
np.save("npy_f4_0d.npy", np.array(7.5, dtype="<f4"))
np.savez("npz_img.npz", x=img4, y=lab)                      # stored members
np.savez_compressed("npz_spk_deflate.npz", x=spk, y=lab3)   # deflated members
