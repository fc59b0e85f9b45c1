#!/bin/sh
# Runs the Python layer's tests with Debian's pytest (python3-pytest, installed
# here when missing, as scripts/install-test-deps.sh installs its packages)
# against the executable `npm test` just built (dist/sandboxlib), or the one
# SANDBOXLIB_EXECUTABLE names. pytest's own exit status is this script's: 5
# (no tests collected) fails like any failure.
set -eu
cd "$(dirname "$0")/../.."
python=/usr/bin/python3
[ -x "$python" ] || python=python3
if ! "$python" -c 'import pytest' >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "python/tests/run.sh: missing: python3-pytest; install this Debian package as root" >&2
    exit 1
  fi
  echo "python/tests/run.sh: installing python3-pytest" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq python3-pytest >/dev/null
fi
export SANDBOXLIB_EXECUTABLE="${SANDBOXLIB_EXECUTABLE:-$PWD/dist/sandboxlib}"
export PYTHONDONTWRITEBYTECODE=1
exec "$python" -m pytest -p no:cacheprovider -o console_output_style=classic python/tests "$@"
