'''Fixtures: the executable under test, a busybox root filesystem, an image.

The tests run the real executable (SANDBOXLIB_EXECUTABLE, else the repo's
dist/sandboxlib, built by `npm test` before them), as root, against a real
root filesystem built from Debian's busybox-static.
'''

import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'python'))

if not os.environ.get('SANDBOXLIB_EXECUTABLE'):
    os.environ['SANDBOXLIB_EXECUTABLE'] = os.path.join(REPO, 'dist', 'sandboxlib')

import sandboxlib  # noqa: E402

IS_ROOT = os.geteuid() == 0

# The original's test programs (tests/programs.py), as shell scripts.
PROGRAMS = {
    'test-file-is-writable': (
        '#!/bin/sh\n'
        'if (exec 2>&-; echo x >> "$1"); then printf "Wrote data to %s." "$1";\n'
        'else printf "Couldn\'t open %s for writing." "$1"; exit 1; fi\n'),
    'test-file-or-directory-exists': (
        '#!/bin/sh\n'
        'if [ -e "$1" ]; then printf "%s exists" "$1";\n'
        'else printf "Did not find %s." "$1"; exit 1; fi\n'),
}


def pytest_collection_modifyitems(config, items):
    if IS_ROOT:
        return
    skip = pytest.mark.skip(reason='sandboxes need root (run as root, as CI does): skipped, not passed')
    for item in items:
        if 'needs_root' in item.keywords:
            item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line('markers', 'needs_root: runs a sandbox (root only)')


def busybox():
    for path in ('/usr/bin/busybox', '/bin/busybox'):
        if os.path.exists(path):
            return path
    pytest.fail('busybox not found: run scripts/install-test-deps.sh '
                "(installs Debian's busybox-static)")


@pytest.fixture(params=['chroot', 'linux_user_chroot', 'bubblewrap'])
def sandboxlib_executor(request):
    return getattr(sandboxlib, request.param)


@pytest.fixture
def rootfs(tmp_path):
    '''A busybox root filesystem with the original suite's /data/1/canary.'''
    root = tmp_path / 'sandbox'
    for d in ('bin', 'tmp', 'etc', 'data/1', 'proc', 'dev'):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(str(root), 0o755)
    os.chmod(str(root / 'tmp'), 0o1777)
    shutil.copy(busybox(), str(root / 'bin' / 'busybox'))
    os.chmod(str(root / 'bin' / 'busybox'), 0o755)
    applets = subprocess.check_output([str(root / 'bin' / 'busybox'), '--list'])
    for applet in applets.decode().split():
        if applet != 'busybox':
            os.symlink('busybox', str(root / 'bin' / applet))
    for name, text in PROGRAMS.items():
        path = root / 'bin' / name
        path.write_text(text)
        os.chmod(str(path), 0o755)
    (root / 'data' / '1' / 'canary').write_text("Please don't overwrite me.")
    return str(root)


@pytest.fixture
def aci_image(rootfs, tmp_path):
    '''An App Container image, made by the repo's test helper (test/helpers/images.ts).'''
    bun = os.path.join(REPO, 'node_modules', '.bin', 'bun')
    if not os.path.exists(bun):
        bun = shutil.which('bun')
    if bun is None:
        pytest.fail('bun not found: run npm install')
    out_dir = tmp_path / 'image'
    out_dir.mkdir()
    script = ('import { aciImage } from "./test/helpers/images.ts";'
              'console.log(aciImage(process.argv[1], process.argv[2]));')
    done = subprocess.run([bun, '-e', script, rootfs, str(out_dir)], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip().splitlines()[-1]


@pytest.fixture
def clean_backend_variable(monkeypatch):
    monkeypatch.delenv('SANDBOXLIB_BACKEND', raising=False)
    return monkeypatch
