#!/usr/bin/env bash
# Install a Node harness's node_modules from a cache outside the repository, so that native
# modules (sqlite3, better-sqlite3: 2-3 min of compiling each, since their prebuilt binaries
# cannot be downloaded here) are built once per machine, not once per clone.
#
#   scripts/node-cache.sh DIR [CHECK]
#
# DIR is a directory with package.json and package-lock.json (e.g. testdata/nodesqlite). CHECK,
# optional, is a JavaScript expression `node -e` runs in DIR to prove the install works (e.g.
# "require('better-sqlite3')"); without it every dependency in package.json is required.
#
# The cache key is the sha256 of package-lock.json plus Node's module ABI, the platform and the
# architecture (native modules are built for those). In order:
#   1. DIR/node_modules already installed for that key (and CHECK passes): nothing to do;
#   2. the cache holds the key: copy it into DIR/node_modules;
#   3. otherwise: npm ci in DIR, then save DIR/node_modules in the cache.
# A cached copy that fails CHECK is dropped and rebuilt.
#
# Environment:
#   SESSIONBRIDGE_NODE_CACHE   the cache directory
#                              (default ${XDG_CACHE_HOME:-$HOME/.cache}/sessionbridge/node_modules)
set -euo pipefail

die() { echo "node-cache: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 DIR [CHECK]"
dir=$(cd "$1" && pwd) || die "no directory $1"
[ -f "$dir/package.json" ] && [ -f "$dir/package-lock.json" ] || die "$dir needs package.json and package-lock.json"
command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"

check=${2:-}
if [ -z "$check" ]; then
	check=$(node -e 'const p = require(process.argv[1]); console.log(Object.keys(p.dependencies || {}).map((d) => `require(${JSON.stringify(d)})`).join(";"))' "$dir/package.json")
fi

abi=$(node -p 'process.versions.modules + "-" + process.platform + "-" + process.arch')
lock=$(sha256sum "$dir/package-lock.json" | cut -c1-64)
key="$lock-node$abi"
cache_root=${SESSIONBRIDGE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sessionbridge/node_modules}
cached="$cache_root/$key"
stamp="$dir/node_modules/.sessionbridge-cache-key"
name=${dir#"$PWD/"}

works() { (cd "$dir" && node -e "$check" >/dev/null 2>&1); }

# 1. Installed for this key already.
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && works; then
	exit 0
fi

# 2. From the cache.
if [ -d "$cached/node_modules" ]; then
	echo "node-cache: $name/node_modules from $cached"
	rm -rf "$dir/node_modules"
	cp -a "$cached/node_modules" "$dir/node_modules"
	echo "$key" >"$stamp"
	if works; then
		exit 0
	fi
	echo "node-cache: the cached copy does not load; rebuilding" >&2
	rm -rf "$cached"
fi

# 3. Build, then save.
echo "node-cache: npm ci in $name (native modules compile from source: a few minutes)"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
works || die "$name: npm ci finished but the packages do not load (node -e \"$check\")"
echo "$key" >"$stamp"
mkdir -p "$cache_root"
tmp=$(mktemp -d "$cache_root/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp -a "$dir/node_modules" "$tmp/node_modules"
rm -rf "$cached"
mv "$tmp" "$cached" # atomic on one file system: no half copy is ever seen under the key
trap - EXIT
echo "node-cache: saved $name/node_modules as $cached"
