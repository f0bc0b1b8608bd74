#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the browser tests (pytest -m browser).
# Idempotent: does nothing when /usr/bin/chromium exists.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
    exit 0
fi
# fonts-liberation: text in screenshots; not needed for the layer colours, but cheap.
bash "$(dirname "$0")/apt-install.sh" chromium fonts-liberation
/usr/bin/chromium --version
