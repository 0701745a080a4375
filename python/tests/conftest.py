"""Shared fixtures. Run from ctest (`ctest -R python`), which sets SPIKEBP_LIB (the build's
libspikebp.so), SBP_CLI and SBP_SOURCE_DIR; by hand: SPIKEBP_LIB=build/libspikebp.so
python3 -m pytest python/tests. The package is imported from this source tree."""

import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("SBP_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "python"))

import spikebp  # noqa: E402,F401  (after the path above; the tests import it from here)

TINY = "12x12x1-8C3-P2-20FC-4"


@pytest.fixture
def tiny_data():
    """96 random 12×12 images with labels 0..3 (images deliberately related to the label,
    so that training has something to learn)."""
    rng = np.random.default_rng(7)
    y = np.arange(96) % 4
    x = rng.integers(0, 120, (96, 12, 12), dtype=np.uint8)
    for k in range(4):  # one bright quadrant per class
        x[y == k, (k // 2) * 6:(k // 2) * 6 + 6, (k % 2) * 6:(k % 2) * 6 + 6] += 120
    return x, y


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("SBP_CLI") or os.path.join(SOURCE, "build", "spikebp")
    if not os.path.exists(path):
        pytest.fail("the spikebp CLI is not built (%s); run through ctest or build it" % path)
    return path


def data_dir():
    out = subprocess.run([os.path.join(SOURCE, "scripts", "data-dir")], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()
