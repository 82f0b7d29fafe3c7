"""Builds the mcrx_core extension from the library's own C sources (no prebuilt
library needed), so `python3 -m pip install ./python` works offline."""
import os
import sys

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, ".."))
src = os.path.join(root, "src")

if not sys.platform.startswith("linux"):
    sys.exit("mcrx_core: only Linux has a platform layer so far (src/platform/)")

sources = [os.path.relpath(os.path.join(here, "mcrx_core", "_mcrx_core.c"), here)]
sources += [os.path.relpath(os.path.join(src, f), here)
            for f in ("config.c", "context.c", "error.c", "ffi.c", "jsonl.c", "metrics.c", "recv.c",
                      "subscription.c")]
sources += [os.path.relpath(os.path.join(src, "platform", f), here) for f in ("linux.c", "linux_fs.c", "linux_proc.c")]

setup(
    ext_modules=[
        Extension(
            "mcrx_core._mcrx_core",
            sources=sources,
            include_dirs=[os.path.join(root, "include"), src],
            define_macros=[("_GNU_SOURCE", None)],
            extra_compile_args=["-std=gnu11", "-fvisibility=hidden", "-O2"],
            libraries=["pthread"],
        )
    ],
)
