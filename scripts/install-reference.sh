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

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-reference.sh: must run as root (or with sudo available) to apt-get install ${PACKAGES[*]}" >&2
    exit 1
  fi
}

all_installed() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
}

if all_installed; then
  echo "install-reference.sh: ${PACKAGES[*]} already installed"
else
  export DEBIAN_FRONTEND=noninteractive
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

/usr/bin/python3 -c 'import torch; print("install-reference.sh: torch", torch.__version__, "ok")'
