# Shared by the install-*.sh scripts: run as root (or through sudo), and check whether Debian packages are present.
# The caller sets PACKAGES (an array) and SCRIPT (its name, for messages) before sourcing this file.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "$SCRIPT: must run as root (or with sudo available) to apt-get install ${PACKAGES[*]}" >&2
    exit 1
  fi
}

all_installed() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
}

# Installs PACKAGES unless every one is already installed (apt-get update first).
ensure_installed() {
  if all_installed; then
    echo "$SCRIPT: ${PACKAGES[*]} already installed"
  else
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
  fi
}
