#!/usr/bin/env bash
# Builds the Python package llama_pajamas with pip (offline, Debian's setuptools, no build isolation) into
# build/python-site and runs its pytest suite (tests/python) against the CLIs in build/release/apps.
# Needs: the release build of llama-pajamas-quant and llama-pajamas-run, Debian's pybind11-dev, python3-pytest,
# python3-numpy, libcurl4-openssl-dev. LP_REQUIRE_PEERS=1 turns a missing fixture or CLI into a failure.
# Usage: scripts/test_python.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${LP_PYTHON:-/usr/bin/python3}
SITE=build/python-site
rm -rf "$SITE"
# The release preset already builds the module (position-independent code, LP_BUILD_PYTHON=ON): pip reuses that
# tree instead of compiling the library a second time.
LP_PYTHON_BUILD_DIR=${LP_PYTHON_BUILD_DIR:-$PWD/build/release} LP_PYTHON_BUILD_JOBS=${LP_PYTHON_BUILD_JOBS:-2} "$PY" -m pip install --quiet --no-build-isolation --no-deps --no-index --root-user-action=ignore \
  --target "$SITE" ./python
PYTHONPATH="$PWD/$SITE" "$PY" -m pytest -q -p no:cacheprovider tests/python "$@"
