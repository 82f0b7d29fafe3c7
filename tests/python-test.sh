#!/usr/bin/env bash
# Installs the Python package the way users do (pip, offline, into a venv that
# sees Debian's pytest) and runs its pytest suite. Runs on the receiver host of
# scripts/netns-run.sh.
# usage: python-test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
PY=/usr/bin/python3
venv=$build/python-venv
rm -rf "$venv"
"$PY" -m venv --system-site-packages "$venv"
# --no-build-isolation: use the installed setuptools instead of downloading one.
"$venv/bin/python" -m pip install -q --no-index --no-build-isolation "$src/python"
cd "$src/python/tests"
export MCRX_TSEND=$build/tests/tsend MCRX_FLOOD=$build/bench/mcrx_bench_flood
# Import the installed package, not the source tree.
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider --import-mode=importlib .
