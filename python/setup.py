"""Builds the mcrx_core extension from the library's own C sources (no prebuilt
library needed), so `python3 -m pip install ./python` works offline."""
import os
import re
import sys

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, ".."))
src = os.path.join(root, "src")

def cmake_list(name):
    """The file names of set(name ...) in ../sources.cmake, the one list of
    the library's sources that CMake reads too."""
    with open(os.path.join(root, "sources.cmake"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"set\(" + name + r"\b(.*?)\)", text, re.S)
    if m is None:
        sys.exit("mcrx_core: sources.cmake has no " + name)
    return [line.split("#")[0].strip() for line in m.group(1).splitlines()
            if line.split("#")[0].strip()]


# The same choice of platform layer as CMakeLists.txt makes.
platforms = {"linux": "MCRX_LINUX_SOURCES"}
platform = next((v for k, v in platforms.items() if sys.platform.startswith(k)), None)
if platform is None:
    sys.exit("mcrx_core: " + sys.platform + " has no platform layer yet (src/platform/)")

sources = [os.path.relpath(os.path.join(here, "mcrx_core", "_mcrx_core.c"), here)]
sources += [os.path.relpath(os.path.join(root, f), here)
            for f in cmake_list("MCRX_CORE_SOURCES") + cmake_list(platform)]

setup(
    ext_modules=[
        Extension(
            "mcrx_core._mcrx_core",
            sources=sources,
            include_dirs=[os.path.join(root, "include"), src],
            define_macros=[("_GNU_SOURCE", None)],
            extra_compile_args=["-std=gnu11", "-fvisibility=hidden", "-O2"],
            # libmnl: the interface monitor (src/platform/linux_netlink.c).
            libraries=["pthread", "mnl"],
        )
    ],
)
