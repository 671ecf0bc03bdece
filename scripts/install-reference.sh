#!/usr/bin/env bash
# Install the PyTorch reference used by bench/reference/step.py.
#
# Debian's python3-torch links against the generic libblas.so.3 alternative;
# without an optimised provider it falls back to the netlib reference BLAS,
# which is an order of magnitude slower and makes any comparison meaningless.
# libopenblas0-pthread registers itself as that alternative, so both packages
# are required. Torch is installed into Debian's Python: run the reference
# with /usr/bin/python3, not whatever python3 comes first on PATH.
#
# Idempotent: re-running only re-checks that the packages are present.
set -euo pipefail

PACKAGES=(python3-torch libopenblas0-pthread)

SCRIPT=install-reference.sh
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

ensure_installed

/usr/bin/python3 -c 'import torch; print("install-reference.sh: torch", torch.__version__, "ok")'
