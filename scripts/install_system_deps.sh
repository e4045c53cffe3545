#!/usr/bin/env bash
# Installs the Debian packages that CyberMesh's tests and viewer need.
# Idempotent: does nothing when every package is already present.
# Needs root (or sudo) and apt-get; elsewhere it prints what to install and exits 0.
set -euo pipefail

PACKAGES=(
  libegl1 libegl-mesa0 libgl1-mesa-dri libgles2   # headless OpenGL through EGL (gl backend)
  libglfw3 xvfb xdotool x11-utils                 # viewer window under a virtual display
  golly                                           # bgolly: trusted Life reference for tests and bench
  hyperfine                                       # whole-process timings in the bench
  chromium fonts-dejavu-core                      # dashboard tests and the web bench (Playwright)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_deps: not a Debian system; please install: ${missing[*]}" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install_system_deps: not root; please install: ${missing[*]}" >&2
    exit 0
  fi
fi
echo "install_system_deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
