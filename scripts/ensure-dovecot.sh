#!/usr/bin/env bash
# Make sure Debian's dovecot-imapd is installed: the IMAP tests read replies and bounces from a real
# dovecot on 127.0.0.1 (tests/imap_server.py starts one per test session, its configuration in a
# temporary directory; the system's own dovecot service is never started or touched).
# Idempotent and quick when dovecot is already there. Needs root (CI and dev machines run as root).
set -euo pipefail

DOVECOT="${OUTREACH_DOVECOT:-/usr/sbin/dovecot}"
if [ -x "$DOVECOT" ] && [ -e /usr/lib/dovecot/imap ]; then
    exit 0
fi

echo "dovecot not found: installing Debian's dovecot-imapd for the IMAP tests" >&2
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: the package's post-install may not start the system-wide service (port 143 on all
# addresses); the tests start their own instance on 127.0.0.1 with their own configuration.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod +x "$POLICY"
    CREATED_POLICY=1
fi
status=0
{ $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null; } || status=$?
if [ -n "$CREATED_POLICY" ]; then
    $SUDO rm -f "$POLICY"
fi
if [ "$status" -ne 0 ]; then
    cat >&2 <<'MSG'
error: could not install dovecot-imapd with apt-get.
  The IMAP tests (tests/integration/test_imap_*.py) read mail from a real dovecot on 127.0.0.1.
  Install it by hand (`apt-get install -y dovecot-imapd` as root on Debian/Ubuntu), or point
  OUTREACH_DOVECOT at an existing dovecot binary, then run `make test` again.
MSG
    exit 1
fi
[ -x "$DOVECOT" ] || { echo "error: apt-get succeeded but there is no $DOVECOT" >&2; exit 1; }
echo "dovecot installed: $("$DOVECOT" --version 2>/dev/null || echo unknown version)" >&2
