#!/usr/bin/env bash
# Installs the Vercel AI SDK, npm package ai in three majors (7 as "ai", 6 as
# "ai-v6", 5 as "ai-v5") and its OpenAI-compatible provider
# (@ai-sdk/openai-compatible, for ai 7; versions locked in
# tests/peers/ai-sdk/package-lock.json), into tests/peers/ai-sdk/node_modules:
# - tests/chatapi/test_ui_stream.py: the SDK's own DefaultChatTransport and
#   readUIMessageStream read what lambdastream.chatapi.ui_stream writes
#   (read-stream.mjs);
# - tests/chat/test_chat_ai_sdk.py: the SDK's clients against the live chat
#   (live-chat.mjs: /api/chat; openai-compatible.mjs: /v1 with streamText);
# - tests/chat/test_chat_use_chat_page.py: a page loads ai's ESM build in
#   chromium (browser-importmap.mjs resolves its import map).
# Idempotent and non-interactive (~5 s; no install scripts, nothing built).
#
# ai 7 and the provider declare Node >= 22 and this machine's Node is 20: npm
# warns (EBADENGINE) and installs them, and the parts the tests run (fetch, web
# streams, zod, JSON) work on Node 20; majors 6 and 5 declare Node >= 18.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
peer="$root/tests/peers/ai-sdk"
say() { printf 'install-ai-sdk: %s\n' "$*"; }
die() { printf 'install-ai-sdk: error: %s\n' "$*" >&2; exit 1; }
t0=$(date +%s)

export CI="${CI:-true}"
# Node itself: the machine's own, else Debian's (said first; SYSTEM_DEPS=skip
# installs nothing, see tools/apt-install.sh).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  bash "$root/tools/apt-install.sh" "Node.js, to run the AI SDK's stream reader" nodejs npm ||
    die "the Debian packages nodejs npm are needed"
fi
say "node $(node --version), npm $(npm --version)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
  die "the AI SDK needs Node >= 18"

# Every locked package installed at its locked version?
installed() {
  (cd "$peer" && node -e '
    const fs = require("fs");
    const lock = require("./package-lock.json").packages;
    for (const [path, entry] of Object.entries(lock)) {
      if (!path) continue;
      let have;
      try { have = JSON.parse(fs.readFileSync(path + "/package.json", "utf8")).version; }
      catch { process.exit(1); }
      if (have !== entry.version) process.exit(1);
    }') 2>/dev/null
}
if installed; then
  say "ai $(cd "$peer" && node -p 'require("./node_modules/ai/package.json").version') (and majors 6, 5, @ai-sdk/openai-compatible) already installed in ${peer#"$root"/}/node_modules"
  exit 0
fi

say "npm ci in ${peer#"$root"/} (versions from package-lock.json, scripts off)"
(cd "$peer" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
  --engine-strict=false </dev/null)
installed || die "npm ci did not install the locked versions"
for pkg in ai ai-v6 ai-v5 @ai-sdk/openai-compatible; do
  say "$pkg $(cd "$peer" && node -p "require('./node_modules/$pkg/package.json').version")"
done
say "installed in $(($(date +%s) - t0)) s; the scripts in tests/peers/ai-sdk run it"
