"""Builds the relay's compiled fast path (media/fastpath.pyx); everything else is in pyproject.toml."""

import hashlib
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

SOURCE = Path(__file__).resolve().parent / "media" / "fastpath.pyx"
# The hash of the source it was built from, so that a stale build is refused at import (media/aiortc_internals.py).
DIGEST = hashlib.sha256(SOURCE.read_bytes()).hexdigest()

setup(
    ext_modules=cythonize(
        [
            Extension(
                "media.fastpath",
                ["media/fastpath.pyx"],
                define_macros=[("JIAYI_FASTPATH_SHA256", f'"{DIGEST}"')],
                extra_compile_args=["-O2"],
            )
        ],
        compiler_directives={"language_level": 3},
        quiet=True,
    ),
)
