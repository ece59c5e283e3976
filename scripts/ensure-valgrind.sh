#!/usr/bin/env bash
# Installs Debian's valgrind for the benchmark's instruction counts when it
# is missing (idempotent; needs root). Nothing is downloaded but the Debian
# package.
set -euo pipefail
if command -v valgrind >/dev/null 2>&1 && command -v callgrind_control >/dev/null 2>&1; then
  echo "ok   valgrind   $(command -v valgrind) (already installed)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "valgrind is missing; install it with: sudo apt-get install -y valgrind" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends valgrind >/dev/null 2>&1 || {
  apt-get update -qq
  apt-get install -y --no-install-recommends valgrind >/dev/null
}
echo "ok   valgrind   $(command -v valgrind) (installed)"
