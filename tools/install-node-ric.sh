#!/usr/bin/env bash
# Installs the official Node.js runtime client (npm package aws-lambda-ric,
# version locked in tests/peers/node/package-lock.json) into
# tests/peers/node/node_modules, for the conformance tests that compare our
# runtime and local Lambda with it. Idempotent and non-interactive.
#
# Why a fresh install is slow (~2.5 min on 2 cores): the package's preinstall
# script builds curl from source with autotools (autoreconf + configure ~65 s,
# make ~60 s when serial), then aws-lambda-cpp with cmake, then its N-API
# addon rapid-client.node with node-gyp. Here: make runs with -j$(nproc), and
# the finished addon is kept in a cache; a later install of the same version
# (node_modules/aws-lambda-ric removed, or a new Node version: N-API addons
# do not depend on it) copies it back instead of building.
#
# Env: NODE_RIC_CACHE_DIR (default tests/peers/node/node_modules/.cache/
# lambdastream-node-ric) moves that cache, e.g. to ~/.cache, so that fresh
# clones on the same machine skip the build; NODE_RIC_REBUILD=1 ignores it.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
peer="$root/tests/peers/node"
say() { printf 'install-node-ric: %s\n' "$*"; }
die() { printf 'install-node-ric: error: %s\n' "$*" >&2; exit 1; }
t0=$(date +%s)

export CI="${CI:-true}"
apt_install() {
  # Said first, on one line; SYSTEM_DEPS=skip installs nothing (tools/apt-install.sh).
  local why=$1
  shift
  bash "$root/tools/apt-install.sh" "$why" "$@" ||
    die "the Debian packages $* are needed ($why)"
}

# Node itself: the machine's own (Node 20 here), else Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install "Node.js, to run the official Node.js runtime client" nodejs npm
fi
say "node $(node --version), npm $(npm --version)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 16 ? 0 : 1)' ||
  die "aws-lambda-ric 3.x needs Node >= 16 (4.x needs >= 22)"

ric="$peer/node_modules/aws-lambda-ric"
want=$(node -p "require('$peer/package-lock.json').packages['node_modules/aws-lambda-ric'].version")
addon_loads() {
  # The addon reads AWS_LAMBDA_RUNTIME_API when it loads (and aborts on
  # SIGABRT without it); loading it opens no connection.
  (AWS_LAMBDA_RUNTIME_API=127.0.0.1:9 node -e "require('$ric/dist/rapid-client.node')") \
    >/dev/null 2>&1
}
have=$(node -p "try { require('$ric/package.json').version } catch { '' }")
if [ "$have" = "$want" ] && [ -f "$ric/bin/index.mjs" ] && addon_loads; then
  say "aws-lambda-ric $have already installed in ${peer#"$root"/}/node_modules"
  exit 0
fi

# The JavaScript half: npm, with install scripts off so that npm's own
# script policy cannot silently skip the build; the build follows below.
say "npm install (aws-lambda-ric $want, scripts off) in ${peer#"$root"/}"
(cd "$peer" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null)
[ -f "$ric/package.json" ] || die "npm did not install aws-lambda-ric"

cache="${NODE_RIC_CACHE_DIR:-$peer/node_modules/.cache/lambdastream-node-ric}"
cached="$cache/aws-lambda-ric-$want-$(uname -s)-$(uname -m)/rapid-client.node"
if [ "${NODE_RIC_REBUILD:-0}" != 1 ] && [ -f "$cached" ]; then
  say "reusing the cached native addon $cached"
  cp "$cached" "$ric/dist/rapid-client.node"
  addon_loads || say "the cached addon does not load; building it"
fi

if ! addon_loads; then
  apt_install "to build the Node.js client's native addon" autoconf automake libtool make g++ \
    cmake python3
  # node-gyp would download Node's headers; the installed Node ships them.
  nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  if [ -f "$nodedir/include/node/node.h" ] && [ -f "$nodedir/include/node/common.gypi" ]; then
    export npm_config_nodedir="$nodedir"
  fi
  export MAKEFLAGS="-j$(nproc)" JOBS="$(nproc)"
  export PATH="$peer/node_modules/.bin:$PATH"
  log="$peer/node_modules/.cache/lambdastream-node-ric-build.log"
  mkdir -p "$(dirname "$log")"
  say "building curl, aws-lambda-cpp and rapid-client.node (~2 min; log: ${log#"$root"/})"
  # The package's own install scripts, as npm would run them.
  if ! (cd "$ric" && sh scripts/preinstall.sh && sh scripts/postinstall.sh) >"$log" 2>&1 </dev/null; then
    tail -n 40 "$log" >&2
    die "native build failed; full log in $log"
  fi
  addon_loads || die "rapid-client.node was built but does not load"
  mkdir -p "$(dirname "$cached")"
  cp "$ric/dist/rapid-client.node" "$cached"
  say "cached the addon in $cached"
fi

chmod +x "$peer/bootstrap"
say "aws-lambda-ric $want installed in $(($(date +%s) - t0)) s; run it with tests/peers/node/bootstrap"
