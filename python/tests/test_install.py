"""`pip install ./python` offline (no index, no network), into a virtual environment that sees
Debian's numpy and cffi: the installed package loads its own copy of the library, found next
to it, with SPIKEBP_LIB unset and outside the source tree."""

import os
import shutil
import subprocess
import sys

from conftest import SOURCE


def test_pip_install_offline_into_a_venv(tmp_path):
    lib = os.path.abspath(os.environ.get("SPIKEBP_LIB") or
                          os.path.join(SOURCE, "build", "libspikebp.so"))
    # a copy of the two folders setup.py reads, so that the in-tree build of pip leaves no
    # build/ or .egg-info in the checkout
    src = tmp_path / "src"
    shutil.copytree(os.path.join(SOURCE, "python"), src / "python",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
    (src / "include").mkdir()
    shutil.copy(os.path.join(SOURCE, "include", "spikebp.h"), src / "include")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    py = str(venv / "bin" / "python")
    env = dict(os.environ, SPIKEBP_LIB=lib, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    out = subprocess.run([py, "-m", "pip", "install", "--no-index", str(src / "python")],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("SPIKEBP_LIB", "PYTHONPATH")}
    probe = ("import spikebp, numpy as np; net = spikebp.Net('2x2x1-3'); "
             "ds = spikebp.Dataset.from_arrays(np.zeros((2, 2, 2), np.uint8), [0, 1]); "
             "print(spikebp.LIBRARY_PATH); print(net.predict(ds, timesteps=3).shape)")
    out = subprocess.run([py, "-c", probe], env=env, cwd=str(tmp_path), capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    where, shape = out.stdout.split("\n")[:2]
    assert where.startswith(str(venv)) and where.endswith("spikebp/libspikebp.so")
    assert shape == "(2, 3)"
