#!/usr/bin/env bash
# Installs the Debian packages ser builds against, when any is missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libsndfile1-dev libsoxr-dev libfftw3-dev libopenblas-dev
      libinih-dev libcjson-dev libplplot-dev plplot-driver-cairo
      libdnnl-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "ser: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  $cmd
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq && sudo $cmd
else
  echo "ser: missing packages: ${missing[*]}" >&2
  echo "ser: run as root:  apt-get update && $cmd" >&2
  exit 1
fi
