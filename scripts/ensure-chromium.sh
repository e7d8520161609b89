#!/usr/bin/env bash
# Make sure Debian's chromium is installed: the HTML report test renders the report in it.
# Idempotent and quick when chromium is already there. Needs root (CI and dev machines run as root)
# and Debian's package mirror; says clearly what to do when it cannot install.
set -euo pipefail

for candidate in "${OUTREACH_CHROMIUM:-}" chromium chromium-browser; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then
        exit 0
    fi
done

echo "chromium not found: installing Debian's chromium package for the report rendering test" >&2
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
    cat >&2 <<'MSG'
error: could not install chromium with apt-get.
  The test suite renders the HTML report in headless Chromium (tests/e2e/test_report_browser.py).
  Install it by hand (`apt-get install -y chromium` as root on Debian/Ubuntu), or point
  OUTREACH_CHROMIUM at an existing chromium binary, then run `make test` again.
MSG
    exit 1
fi
command -v chromium >/dev/null 2>&1 || { echo "error: apt-get succeeded but no chromium on PATH" >&2; exit 1; }
echo "chromium installed: $(chromium --version 2>/dev/null || echo unknown version)" >&2
