#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the browser tests (pytest -m browser).
#
# Idempotent and non-interactive: does nothing when /usr/bin/chromium exists.
# Needs root (or passwordless sudo) and access to the Debian apt mirrors.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-browser: need root (or sudo) to apt-get install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# fonts-liberation: text in screenshots; not needed for the layer colours, but cheap.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium fonts-liberation

/usr/bin/chromium --version
