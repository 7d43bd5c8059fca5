#!/usr/bin/env bash
# Installs the named Debian packages that are not installed yet (apt-get, through sudo when not root); prints
# "all present" when there is nothing to do. Used by setup.sh and bundle_deps.sh.
# Usage: scripts/install_debian_packages.sh PACKAGE...
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "   installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "   all present"
fi
