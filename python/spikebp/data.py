"""Labelled data sets: by name as the CLI reads them, from files, or from numpy arrays."""

import os

import numpy as np

from ._errors import SpikebpError, Status, call
from ._ffi import ffi, lib
from ._memory import pointer_to, view


def _path(p):
    return os.fsencode(os.fspath(p))


class Dataset:
    """An sbp_dataset: images (N, C, H, W) uint8 rate-encoded per §1, or spike trains
    (N, T, C, H, W) int8 fed as they are. len(ds) samples; ds.images / ds.spikes / ds.labels are
    read-only numpy views of the library's memory (no copy)."""

    def __init__(self, pointer, keep=(), name=None):
        # Not for direct use: the class methods below make data sets. `keep` holds what the
        # C object points into (borrowed arrays, the parent of a slice). `name`: the CLI name
        # it was opened by, recorded in models trained on it (so `spikebp eval` finds it).
        self._ptr = ffi.gc(pointer, lib.sbp_dataset_free)
        self._keep = tuple(keep)
        self.name = name

    # -------------------------------------------------------------- constructors
    @classmethod
    def _made(cls, fn, *args, keep=(), name=None):
        out = ffi.new("sbp_dataset **")
        call(fn, out, *args)
        return cls(out[0], keep, name)

    @classmethod
    def open(cls, name, split="train", limit=0):
        """A data set by the names the CLI's --data takes ("mnist", "fashion-mnist", "cifar10",
        "svhn", "nmnist@T", folders, "npz:FILE", ...), from $SBP_DATA_DIR or ~/.cache/spikebp.
        split: "train" or "test"; limit > 0 keeps the first `limit` samples."""
        if not hasattr(lib, "sbp_dataset_open"):
            raise SpikebpError(Status.ERR_UNSUPPORTED,
                               "this libspikebp has no sbp_dataset_open (data sets by name); "
                               "use Dataset.load_idx / load_npz / from_arrays")
        splits = {"train": lib.SBP_SPLIT_TRAIN, "test": lib.SBP_SPLIT_TEST}
        if split not in splits:
            raise ValueError("split must be 'train' or 'test', got %r" % (split,))
        return cls._made(lib.sbp_dataset_open, name.encode(), splits[split], int(limit),
                         name=name)

    @staticmethod
    def names_help():
        """The data set names Dataset.open understands (the CLI's --data help)."""
        if not hasattr(lib, "sbp_dataset_names_help"):
            return ""
        return ffi.string(lib.sbp_dataset_names_help()).decode()

    @classmethod
    def load_idx(cls, images, labels):
        """IDX image and label files (MNIST layout), raw or gzip-compressed."""
        return cls._made(lib.sbp_dataset_load_idx, _path(images), _path(labels))

    @classmethod
    def load_npy(cls, x, y):
        return cls._made(lib.sbp_dataset_load_npy, _path(x), _path(y))

    @classmethod
    def load_npz(cls, path, x="x", y="y"):
        return cls._made(lib.sbp_dataset_load_npz, _path(path), x.encode(), y.encode())

    @classmethod
    def load_cifar10(cls, *paths):
        """CIFAR-10 binary batches (one or several files, concatenated in order)."""
        cpaths = [ffi.new("char[]", _path(p)) for p in paths]
        return cls._made(lib.sbp_dataset_load_cifar10_files, ffi.new("char *[]", cpaths),
                         len(cpaths))

    @classmethod
    def from_arrays(cls, x, y, classes=0, copy=False):
        """A data set over numpy arrays. x: uint8 images (N, C, H, W) or (N, H, W), or spike
        trains (N, T, C, H, W) of int8 (or bool/uint8) in -1..1; y: integer labels (N,).

        copy=False (default) borrows x when it already is a C-contiguous array of the C type
        (uint8 images, int8 spikes): no copy, and the data set keeps a reference to it — do
        not write into x while the data set lives. Otherwise x is converted once (a copy).
        Labels are stored as uint8 (converted when they are of another dtype). classes=0
        takes max(y) + 1."""
        x = np.asarray(x)
        y = np.asarray(y)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError("labels must be a 1-d integer array (N,), got %s of %s" %
                             (y.shape, y.dtype))
        if y.size and (y.min() < 0 or y.max() > 255):
            raise ValueError("labels must lie in 0 ... 255, got %d ... %d" % (y.min(), y.max()))
        if x.ndim in (3, 4):
            if x.dtype != np.uint8:
                raise ValueError("images must be uint8 (N, C, H, W) or (N, H, W), got %s; spike "
                                 "trains have 5 dimensions (N, T, C, H, W)" % x.dtype)
            T = 0
            shape = (x.shape[0], 1) + x.shape[1:] if x.ndim == 3 else x.shape
        elif x.ndim == 5:
            if x.dtype not in (np.int8, np.uint8, np.bool_):
                raise ValueError("spike trains must be int8, uint8 or bool, got %s" % x.dtype)
            if x.dtype == np.uint8 and x.size and x.max() > 1:
                raise ValueError("uint8 spike trains hold 0 or 1, found %d" % x.max())
            if x.dtype != np.int8:
                x = x.astype(np.int8)  # values 0/1 stay 0/1
            T = x.shape[1]
            shape = (x.shape[0],) + x.shape[2:]
        else:
            raise ValueError("data must be images (N, H, W), (N, C, H, W) or spike trains "
                             "(N, T, C, H, W), got %d dimensions" % x.ndim)
        if len(y) != x.shape[0]:
            raise ValueError("%d samples but %d labels" % (x.shape[0], len(y)))
        borrow = not copy
        x = np.ascontiguousarray(x)
        y = np.ascontiguousarray(y, dtype=np.uint8)
        mode = lib.SBP_MEMORY_BORROW if borrow else lib.SBP_MEMORY_COPY
        n, c, h, w = (int(v) for v in shape)
        return cls._made(lib.sbp_dataset_from_memory, pointer_to(x, "void *"),
                         pointer_to(y, "uint8_t *"), n, int(T), c, h, w, int(classes), mode,
                         keep=(x, y) if borrow else ())

    # -------------------------------------------------------------- properties
    def __len__(self):
        return lib.sbp_dataset_count(self._ptr)

    @property
    def shape(self):
        """(C, H, W) of one sample (per step for spike trains)."""
        c, h, w = ffi.new("int *"), ffi.new("int *"), ffi.new("int *")
        lib.sbp_dataset_shape(self._ptr, c, h, w)
        return (c[0], h[0], w[0])

    @property
    def classes(self):
        return lib.sbp_dataset_classes(self._ptr)

    @property
    def timesteps(self):
        """T of a spike data set (its samples fix the window), 0 for images."""
        return lib.sbp_dataset_timesteps(self._ptr)

    @property
    def labels(self):
        return view(lib.sbp_dataset_labels(self._ptr), (len(self),), np.uint8, self, True)

    @property
    def images(self):
        """(N, C, H, W) uint8, read-only view; None for a spike data set."""
        p = lib.sbp_dataset_image(self._ptr, 0)
        if p == ffi.NULL:
            return None
        return view(p, (len(self),) + self.shape, np.uint8, self, True)

    @property
    def spikes(self):
        """(N, T, C, H, W) int8, read-only view; None for an image set."""
        p = lib.sbp_dataset_spikes(self._ptr, 0)
        if p == ffi.NULL:
            return None
        return view(p, (len(self), self.timesteps) + self.shape, np.int8, self, True)

    def __repr__(self):
        kind = "spike trains T=%d" % self.timesteps if self.timesteps else "images"
        return "<spikebp.Dataset %d %s of %s, %d classes>" % (len(self), kind,
                                                             "x".join(map(str, self.shape)),
                                                             self.classes)

    # -------------------------------------------------------------- changes
    def set_encoding(self, mean, std, gain):
        """§1 rate encoding: x = (pixel/255 - mean[c]) / std[c], spike probability |x|·gain."""
        c = self.shape[0]
        mean = np.broadcast_to(np.asarray(mean, np.float32), (c,)).copy()
        std = np.broadcast_to(np.asarray(std, np.float32), (c,)).copy()
        call(lib.sbp_dataset_set_encoding, self._ptr, pointer_to(mean, "float *"),
             pointer_to(std, "float *"), float(gain))

    def set_augment(self, crop_pad=0, flip=False):
        """§1 training augmentation (CIFAR-10): random crop with padding and horizontal flip."""
        call(lib.sbp_dataset_set_augment, self._ptr, int(crop_pad), int(bool(flip)))

    def slice(self, first, count):
        """A view of samples [first, first+count): no copy; keeps this data set alive."""
        return Dataset._made(lib.sbp_dataset_slice, self._ptr, int(first), int(count),
                             keep=(self,))

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a Dataset is sliced with [a:b] (a contiguous view)")
        first, stop, _ = key.indices(len(self))
        return self.slice(first, max(0, stop - first))
