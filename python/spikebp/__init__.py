"""spikebp — spiking neural networks trained with spike-based backpropagation (Lee et al.
2020), a thin binding over libspikebp (see docs/python.md).

    import spikebp as sb
    net = sb.Net("lenet", seed=1)
    train = sb.Dataset.open("mnist", "train", limit=640)
    test = sb.Dataset.open("mnist", "test", limit=1000)
    for epoch in sb.train(net, train, epochs=1, timesteps=20, test=test):
        print(epoch.test_accuracy)
"""

from ._errors import SpikebpError, Status
from ._ffi import CONSTANTS, HEADER_PATH, LIBRARY_PATH, ffi, lib
from .data import Dataset
from .net import EvalResult, Evaluator, Layer, LayerStats, Net
from .training import BatchResult, EpochResult, Trainer, train, train_options

import os as _os
import warnings as _warnings

__version__ = CONSTANTS.get("SBP_VERSION_STRING", "unknown")  # the header's version


def describe_cpu():
    buf = ffi.new("char[256]")
    lib.sbp_describe_cpu(buf, len(buf))
    return ffi.string(buf).decode()


def describe_blas():
    """The kernels OpenBLAS runs, e.g. "OpenBLAS SkylakeX kernels"."""
    buf = ffi.new("char[256]")
    lib.sbp_describe_blas(buf, len(buf))
    return ffi.string(buf).decode()


# OpenBLAS chooses its kernels as it loads, before this module can set OPENBLAS_CORETYPE (the
# spikebp tool executes itself again instead, spikebp.h: sbp_blas_pick_kernels): where it fell
# back to its generic kernels on a CPU that runs faster ones, say how to get them.
if "OPENBLAS_CORETYPE=" in describe_blas() and "OPENBLAS_CORETYPE" not in _os.environ:
    _warnings.warn("spikebp: " + describe_blas() + "; set it in the environment before Python "
                   "starts", RuntimeWarning, stacklevel=2)


__all__ = ["Net", "Evaluator", "Dataset", "Trainer", "train", "train_options", "SpikebpError", "Status",
           "EvalResult", "Layer", "LayerStats", "BatchResult", "EpochResult", "describe_cpu",
           "describe_blas",
           "LIBRARY_PATH", "HEADER_PATH"]
