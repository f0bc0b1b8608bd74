#!/bin/sh
# Install PostGIS for the PostgreSQL server found on PATH (Debian/Ubuntu), if it is absent.
# Used by benchmarks/bench_linked_query.py, which compares the embedded GeoSPARQL store with
# PostGIS (GiST indexes) on the same data. Needs root (or sudo) and the Debian archive.
set -eu
PGBIN=$(dirname "$(readlink -f "$(command -v postgres || echo /usr/lib/postgresql/15/bin/postgres)")")
MAJOR=$("$PGBIN/postgres" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')
SHARE=/usr/share/postgresql/$MAJOR/extension
if [ -f "$SHARE/postgis.control" ]; then
    echo "PostGIS already installed for PostgreSQL $MAJOR ($SHARE/postgis.control)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "postgresql-$MAJOR-postgis-3"
test -f "$SHARE/postgis.control"
echo "PostGIS installed for PostgreSQL $MAJOR"
