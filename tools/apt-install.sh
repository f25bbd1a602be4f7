#!/usr/bin/env bash
# Installs the Debian packages of a make target, only those missing, saying
# first, on one line, what it installs, why, and how to do without root.
#
#   bash tools/apt-install.sh "the chat page test" chromium ...
#
# apt-get runs as root, through sudo when not root (none: an error saying the
# command to run as root). The .deb files apt downloads for them are removed
# afterwards: chromium's alone are a few hundred MB in /var/cache/apt/archives.
#
# Env: SYSTEM_DEPS=skip installs nothing: the packages are to be installed by
# hand (make test SYSTEM_DEPS=skip). Exit status: 0 all there (or installed),
# 3 some missing under SYSTEM_DEPS=skip (said on stderr), 1 a failure.
set -euo pipefail
say() { printf 'apt-install: %s\n' "$*" >&2; }
why=$1
shift
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

by_hand="sudo apt-get install --no-install-recommends ${missing[*]}"
if [ "${SYSTEM_DEPS:-install}" = skip ]; then
  say "SYSTEM_DEPS=skip: not installing ${missing[*]} ($why); install them with: $by_hand"
  exit 3
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    say "error: ${missing[*]} ($why) need installing as root: $by_hand, then make test SYSTEM_DEPS=skip; or make check, which needs no system packages"
    exit 1
  fi
  SUDO="sudo"
fi
say "installing Debian packages ${missing[*]} ($why) with ${SUDO:+sudo }apt-get; to do without root: $by_hand yourself, then make test SYSTEM_DEPS=skip; or make check, which needs none"

export DEBIAN_FRONTEND=noninteractive
archives=/var/cache/apt/archives
before=$(mktemp)
trap 'rm -f "$before"' EXIT
{ ls "$archives"/*.deb 2>/dev/null || true; } | sort >"$before"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
# Installed: the .deb files downloaded for them are not needed any more.
{ ls "$archives"/*.deb 2>/dev/null || true; } | sort | comm -13 "$before" - | xargs -r $SUDO rm -f
say "installed ${missing[*]}; removed the .deb files apt downloaded for them"
