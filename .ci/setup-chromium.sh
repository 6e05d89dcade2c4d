#!/usr/bin/env bash
# Headless Chromium for the report's screenshot test (test/unit/report/report.test.ts): Debian's
# `chromium` package, installed only when missing. Needs root (CI machines run as root) or sudo.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  echo "chromium: $(chromium --version 2>/dev/null || echo present)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "chromium: missing and not root (no sudo): the screenshot test will be skipped" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium
echo "chromium: $(chromium --version)"
