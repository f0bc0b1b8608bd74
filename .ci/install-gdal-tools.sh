#!/usr/bin/env bash
# Install Debian's GDAL command-line tools (gdal_sieve.py, gdal_calc.py, gdal_polygonize.py)
# for the tests and benchmarks that compare eolab.flood with GDAL's own tools. They are never
# a runtime dependency of eolab; the tests skip when the tools are absent.
# Idempotent: does nothing when gdal_sieve.py (or gdal_sieve) exists.
set -euo pipefail

if command -v gdal_sieve.py >/dev/null 2>&1 || command -v gdal_sieve >/dev/null 2>&1; then
    echo "install-gdal-tools: $(gdalinfo --version 2>/dev/null || echo GDAL) already installed"
    exit 0
fi
# gdal-bin: gdalinfo...; python3-gdal: the Python scripts gdal_sieve.py, gdal_calc.py,
# gdal_polygonize.py (they run on the system python3, not in the project's venv).
bash "$(dirname "$0")/apt-install.sh" gdal-bin python3-gdal
gdalinfo --version
