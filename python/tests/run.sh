#!/bin/sh
# Runs the Python layer's tests with Debian's pytest (python3-pytest, installed
# here when missing, as scripts/install-test-deps.sh installs its packages)
# against the executable `npm test` just built (dist/sandboxlib), or the one
# SANDBOXLIB_EXECUTABLE names: first under Debian's python3, then, as the
# package promises Python 3.7+, the whole suite again under pyenv's Python 3.7
# when there is one (PYENV_ROOT, ~/.pyenv or /root/.pyenv: versions/3.7.*).
# Each run starts with a "python/tests/run.sh: the suite under Python ..." line
# and ends with pytest's summary line; .ci/run adds up the runs' counts.
#
# Debian's pytest is pure Python and works on 3.7 given what it imports there
# in place of newer standard modules (importlib_metadata, zipp,
# typing_extensions, exceptiongroup, tomli: Debian packages too, installed
# here when missing), all from /usr/lib/python3/dist-packages on PYTHONPATH.
#
# The exit status is the first failed run's pytest status (5, no tests
# collected, fails like any failure), else 0.
set -eu
cd "$(dirname "$0")/../.."

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "python/tests/run.sh: missing: $*; install these Debian packages as root" >&2
    exit 1
  fi
  echo "python/tests/run.sh: installing $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "$@" >/dev/null
}

python=/usr/bin/python3
[ -x "$python" ] || python=python3
if ! "$python" -c 'import pytest' >/dev/null 2>&1; then
  apt_install python3-pytest
fi

# The newest 3.7.x that pyenv has, if any.
python37=""
for root in ${PYENV_ROOT:+"$PYENV_ROOT"} "${HOME:-/root}/.pyenv" /root/.pyenv; do
  for dir in $(ls -d "$root"/versions/3.7.* 2>/dev/null | sort -V); do
    [ -x "$dir/bin/python" ] && python37=$dir/bin/python
  done
  [ -n "$python37" ] && break
done
debian_packages=/usr/lib/python3/dist-packages
if [ -n "$python37" ] &&
   ! PYTHONPATH=$debian_packages "$python37" -c 'import pytest, tomli' >/dev/null 2>&1; then
  apt_install python3-importlib-metadata python3-zipp python3-typing-extensions \
    python3-exceptiongroup python3-tomli
fi

export SANDBOXLIB_EXECUTABLE="${SANDBOXLIB_EXECUTABLE:-$PWD/dist/sandboxlib}"
export PYTHONDONTWRITEBYTECODE=1

status=0
# suite PYTHON EXTRA_PYTHONPATH [pytest arguments]: one run; the first failed
# run's status is kept.
suite() {
  py=$1 path=$2
  shift 2
  echo "python/tests/run.sh: the suite under Python $("$py" -c 'import platform; print(platform.python_version())') ($py)" >&2
  env PYTHONPATH="$path${PYTHONPATH:+${path:+:}$PYTHONPATH}" \
    "$py" -m pytest -p no:cacheprovider -o console_output_style=classic python/tests "$@" ||
    { s=$?; [ "$status" -ne 0 ] || status=$s; }
}

suite "$python" "" "$@"
if [ -n "$python37" ]; then
  suite "$python37" "$debian_packages" "$@"
else
  echo "python/tests/run.sh: no Python 3.7 from pyenv (versions/3.7.*): the 3.7 run was not done, nothing of it counted" >&2
fi
exit "$status"
