#!/usr/bin/env bash
# Make sure Debian's pgbouncer is installed (tests/scaleout/test_pgbouncer.py starts its own
# instance on a free port; the packaged service is not used). Needs root to install.
set -euo pipefail
if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "pgbouncer is not installed and installing it needs root: apt-get install pgbouncer" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null
# The package enables a system service; the tests run their own instance instead.
if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]
