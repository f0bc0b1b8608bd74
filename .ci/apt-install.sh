#!/usr/bin/env bash
# apt-get install the Debian packages given as arguments, non-interactively, as root or
# through sudo. Used by the install-*.sh scripts that CI (.ci/run) calls.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "apt-install: need root (or sudo) to apt-get install $*" >&2
        exit 1
    fi
fi
$SUDO apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
