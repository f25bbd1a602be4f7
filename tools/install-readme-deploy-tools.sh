#!/usr/bin/env bash
# Installs what tests/test_readme_deploy_snippets.py drives from npm: osls,
# the open-source fork of the Serverless Framework v3 (v4 needs a login),
# version locked in tests/readme_deploy/package-lock.json, into
# tests/readme_deploy/node_modules. Idempotent and non-interactive; ~10 s
# when it installs, nothing when the locked version is there.
#
# The test's Python tools (aws-cdk-lib, constructs, python-hcl2) come with
# the venv (pyproject's dev extra). Terraform and its AWS provider come from
# no registry this project reaches: the test uses them where the machine has
# them (see the test's docstring).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/tests/readme_deploy"
say() { printf 'install-readme-deploy-tools: %s\n' "$*"; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  # Said first, on one line; SYSTEM_DEPS=skip installs nothing.
  bash "$root/tools/apt-install.sh" "Node.js, to run the Serverless Framework (osls)" nodejs npm
fi

want=$(node -p "require('$dir/package-lock.json').packages['node_modules/osls'].version")
have=$(node -p "try { require('$dir/node_modules/osls/package.json').version } catch { '' }")
if [ "$have" = "$want" ] && [ -x "$dir/node_modules/.bin/osls" ]; then
  say "osls $have already installed in ${dir#"$root"/}/node_modules"
  exit 0
fi
say "npm ci (osls $want) in ${dir#"$root"/}"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
say "osls $want installed; node $(node --version)"
