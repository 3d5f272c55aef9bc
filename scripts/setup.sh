#!/usr/bin/env bash
# Sets a fresh machine up for Distillery: a Vulkan driver WebGPU can use, Chromium for the browser
# tests, the npm packages, a build.
# Safe to re-run. Used by the README's two commands and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-vulkan.sh || echo "setup: no usable Vulkan driver could be installed; GPU work will fail with E_NO_ADAPTER" >&2
bash scripts/install-chromium.sh || echo "setup: no Chromium; the browser tests (examples/browser) will skip, or fail under DISTILLERY_REQUIRE_GPU=1" >&2

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "setup: build"
npx turbo run build --output-logs=errors-only

# npm links a workspace's bin only when its file exists at install time, and dist/ is built after
# `npm ci`: link the bins now. Without this, `npx distillery` would look the name up on the public
# registry. --ignore-scripts: link only, never rerun native install scripts.
echo "setup: link bins"
npm rebuild @distillery/cli @distillery/benchmarks --ignore-scripts --no-audit --no-fund --loglevel=error
node scripts/check-bins.mjs
