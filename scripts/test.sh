#!/usr/bin/env bash
# Builds, type-checks, lints and tests every workspace, then checks the packages install from
# their tarballs. Ends with one "N passed, N failed, N skipped" line.
set -uo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/distillery-runtime-$(id -u)}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

find packages plugins benchmarks -maxdepth 2 -name test-results.json -not -path '*/node_modules/*' -delete 2>/dev/null
rm -f test-results-packaging.json test-results-repo.json test-results-browser-bundles.json

status=0
run() {
  echo "::: $*"
  "$@" || status=1
}
run npx turbo run build typecheck lint format-check --output-logs=errors-only
# Tests one workspace at a time: lavapipe already uses every core for one GPU test file.
run npx turbo run test --concurrency=1 --continue
run node scripts/pack-test.mjs
# The repository as a user meets it: linked bins, compiling docs.
run node scripts/repo-checks.mjs
# Every browser-safe entry bundles for a page (esbuild and Vite) within its size budget.
run node scripts/browser-bundles.mjs
node scripts/test-summary.mjs || status=1
exit $status
