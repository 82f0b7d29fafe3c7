# Cross build for 64-bit Windows with Debian's mingw-w64
# (gcc-mingw-w64-x86-64, mingw-w64-x86-64-dev):
#   cmake -S . -B build-windows -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(MCRX_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${MCRX_MINGW_TRIPLE}-gcc)
set(CMAKE_RC_COMPILER ${MCRX_MINGW_TRIPLE}-windres)
# Appended, so that a consumer's -DCMAKE_FIND_ROOT_PATH=DIR (an installed
# Windows tree of mcrx-core) is searched as well.
list(APPEND CMAKE_FIND_ROOT_PATH /usr/${MCRX_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The programs run under wine64 when tested on Linux.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/lib/wine/wine64)
