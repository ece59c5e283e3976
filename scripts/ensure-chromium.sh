#!/usr/bin/env bash
# Installs Debian's chromium for the browser test when it is missing
# (idempotent; needs root). Nothing is downloaded but the Debian package.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "ok   chromium   $(command -v chromium) (already installed)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium is missing; install it with: sudo apt-get install -y chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
  apt-get update -qq
  apt-get install -y --no-install-recommends chromium >/dev/null
}
echo "ok   chromium   $(command -v chromium) (installed)"
