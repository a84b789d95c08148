#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages napari needs to draw under a real (or virtual) X server.
# Does nothing when they are already there or when the system has no apt-get.
set -euo pipefail
packages=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0
          libxcb-cursor0 libxcb-shape0 libxcb-xinerama0 libgl1 libegl1 libfontconfig1 libdbus-1-3)
command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: install Xvfb and Qt's xcb libraries yourself"; exit 0; }
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
