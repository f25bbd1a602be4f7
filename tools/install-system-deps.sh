#!/usr/bin/env bash
# Installs the Debian packages the tests drive, only those missing (saying so
# first; SYSTEM_DEPS=skip installs nothing): see tools/apt-install.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
status=0
bash "$here/apt-install.sh" \
  "chromium: the chat page test; strace: the wire-cost tests; curl: the curl -N test" \
  strace chromium curl || status=$?
# Skipped: the tests that need them fail under CI=true, and skip elsewhere.
[ "$status" -eq 0 ] || [ "$status" -eq 3 ]
