#!/usr/bin/env bash
# Installs the Python package the way users do (pip, offline, into a venv)
# and runs its pytest suite. Runs on the receiver host of scripts/netns-run.sh.
# usage: python-test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
PY=/usr/bin/python3
# Debian's wheels of pip, setuptools and wheel (python3-pip-whl,
# python3-setuptools-whl, python3-wheel-whl): the offline package index.
wheels=/usr/share/python-wheels
venv=$build/python-venv
tree=$build/python-src

if ! ls "$wheels"/wheel-*.whl >/dev/null 2>&1 || ! ls "$wheels"/setuptools-*.whl >/dev/null 2>&1; then
  echo "python-test: $wheels lacks the setuptools or wheel wheel:" \
    "install Debian's python3-setuptools-whl and python3-wheel-whl (scripts/install-deps.sh)" >&2
  exit 1
fi

# Build from a copy, so the source tree gets no build/ or egg-info and
# parallel builds in other build directories do not share one.
rm -rf "$tree"
mkdir -p "$tree"
cp -r "$src/python" "$src/src" "$src/include" "$src/sources.cmake" "$tree/"
rm -rf "$tree/python/build" "$tree/python"/*.egg-info

# A venv that sees nothing of the system's packages, so `wheel` is not there:
# pip must build in isolation from what pyproject.toml declares.
rm -rf "$venv"
"$PY" -m venv "$venv"
if "$venv/bin/python" -c "import wheel" 2>/dev/null; then
  echo "python-test: the fresh venv already has wheel; the install below proves nothing" >&2
  exit 1
fi
"$venv/bin/python" -m pip install -q --no-index --find-links "$wheels" "$tree/python"

# Now let the venv see Debian's pytest (python3-pytest) for the suite.
sed -i 's/^include-system-site-packages = false$/include-system-site-packages = true/' "$venv/pyvenv.cfg"
grep -q '^include-system-site-packages = true$' "$venv/pyvenv.cfg"

cd "$src/python/tests"
export MCRX_TSEND=$build/tests/tsend MCRX_FLOOD=$build/bench/mcrx_bench_flood
# Import the installed package, not the source tree.
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider --import-mode=importlib .
