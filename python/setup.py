"""pip install ./python — the spikebp package with a copy of libspikebp and its header.

Offline by design: no pyproject.toml build-system table (pip would then fetch setuptools into
an isolated build environment); pip runs this file with Debian's python3-setuptools. The
shared library is taken from $SPIKEBP_LIB, else from the build tree (../build), and copied
next to the package together with include/spikebp.h (or $SPIKEBP_HEADER), so that the
installed package loads the library it was built with. Build the library first:
    cmake -S . -B build && cmake --build build
"""

import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _first(env, candidates, what):
    if os.environ.get(env):
        candidates = [os.environ[env]]
    for c in candidates:
        if os.path.exists(c):
            return c
    raise SystemExit("spikebp setup: %s not found (looked at %s); build the library "
                     "(cmake -S . -B build && cmake --build build) or set %s"
                     % (what, ", ".join(candidates), env))


def library():
    return _first("SPIKEBP_LIB", [os.path.join(ROOT, "build", "libspikebp.so")],
                  "libspikebp.so")


def header():
    return _first("SPIKEBP_HEADER", [os.path.join(ROOT, "include", "spikebp.h")], "spikebp.h")


def version():
    with open(header(), encoding="utf-8") as f:
        m = re.search(r'#define\s+SBP_VERSION_STRING\s+"([^"]+)"', f.read())
    return m.group(1) if m else "0.0.0"


class BuildWithLibrary(build_py):
    """Copies the shared library (symlinks resolved) and the header into the package."""

    def run(self):
        super().run()
        dest = os.path.join(self.build_lib, "spikebp")
        os.makedirs(dest, exist_ok=True)
        shutil.copyfile(os.path.realpath(library()), os.path.join(dest, "libspikebp.so"))
        shutil.copyfile(header(), os.path.join(dest, "spikebp.h"))


setup(
    name="spikebp",
    version=version(),
    description="Spiking neural networks trained with spike-based backpropagation "
                "(binding over libspikebp)",
    packages=["spikebp"],
    python_requires=">=3.9",
    install_requires=["numpy", "cffi"],
    cmdclass={"build_py": BuildWithLibrary},
    zip_safe=False,
)
