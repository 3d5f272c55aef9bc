#!/usr/bin/env bash
# The browser tests (examples/browser) drive the distribution's Chromium through playwright-core;
# nothing downloads a browser. Installs Debian's / Ubuntu's `chromium` when none is there. Needs root
# or passwordless sudo; without them it says how, and the browser tests then skip (or fail under
# DISTILLERY_REQUIRE_GPU=1).
set -euo pipefail

[ "$(uname -s)" = Linux ] || exit 0

for candidate in "${DISTILLERY_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "setup: Chromium present ($candidate)"
    exit 0
  fi
done

if ! command -v apt-get >/dev/null; then
  echo "setup: no apt-get; install Chromium yourself (or set DISTILLERY_CHROMIUM=/path/to/chrome) for the browser tests" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "setup: need root (or passwordless sudo) to run: apt-get install chromium — the browser tests will not run without it" >&2
    exit 1
  fi
fi

echo "setup: installing chromium (apt)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "setup: $(chromium --version 2>/dev/null || echo 'chromium installed')"
