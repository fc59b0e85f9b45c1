'''sandboxlib: the Python library's API, run by the sandboxlib executable.

A drop-in for the Python ``sandboxlib`` (Baserock project, Codethink): the
same functions, executor modules, arguments, defaults, return values,
warnings and exceptions. Every sandbox is run by the ``sandboxlib``
executable (found through the ``SANDBOXLIB_EXECUTABLE`` environment variable,
else on ``PATH``) through its machine-readable protocol (``run --config``
with ``--status-fd``); nothing is done, or pretended, here in Python.

Executors: ``sandboxlib.chroot`` (the executable's chroot backend), and
``sandboxlib.linux_user_chroot`` and ``sandboxlib.bubblewrap``, both run by
its linux backend (namespaces, pivot_root), which does natively what those
two programs did.
'''

import logging
import os
import subprocess
import warnings

__all__ = [
    'CAPTURE', 'STDOUT', 'ProgramNotFound', 'degrade_config_for_capabilities',
    'executor_for_platform', 'get_executor', 'run_sandbox',
    'run_sandbox_with_redirection', 'validate_extra_mounts',
]


class ProgramNotFound(Exception):
    '''The sandboxlib executable was not found.'''


# Special value for 'stderr' and 'stdout' parameters to indicate 'capture
# and return the data'.
CAPTURE = subprocess.PIPE

# Special value for 'stderr' parameter to indicate 'forward to stdout'.
STDOUT = subprocess.STDOUT

# Executor modules by name; the executable's own backend name 'linux' is
# read as bubblewrap, the original's first choice.
_EXECUTOR_NAMES = ('chroot', 'linux_user_chroot', 'bubblewrap')
_ALIASES = {'linux': 'bubblewrap'}


def degrade_config_for_capabilities(in_config, warn=True):
    '''Alter settings in 'in_config' that a given backend doesn't support.

    The original defined this on each executor module only (this one raised
    NotImplementedError); here it is the platform executor's.
    '''
    return executor_for_platform().degrade_config_for_capabilities(
        in_config, warn=warn)


def run_sandbox(command, cwd=None, env=None,
                filesystem_root='/', filesystem_writable_paths='all',
                mounts='undefined', extra_mounts=None,
                network='undefined',
                stderr=CAPTURE, stdout=CAPTURE):
    '''Run 'command' in a sandboxed environment, with the platform executor.

    Parameters (as in the original):
      - command: a list of arguments (a string is one argument).
      - cwd: the working directory, inside the sandbox. Defaults to '/' when
            filesystem_root is given, else the caller's current directory.
      - env: the whole environment of the command (default: the caller's).
      - filesystem_root: the root of the sandbox (a directory; the
            executable also takes a tarball or an image here).
      - filesystem_writable_paths: 'all' (default), 'none' (or None, or an
            empty list: everything read-only), or a list of paths (relative
            to filesystem_root) that stay writable.
      - mounts: 'undefined' or 'isolated'.
      - extra_mounts: a list of (source, target, type[, options]) as in
            /etc/fstab; targets are created when missing.
      - network: 'undefined' or 'isolated'.
      - stdout, stderr: CAPTURE (returned), None (discarded, never
            inherited), a file object or descriptor, or for stderr STDOUT.

    Returns (exit code, stdout bytes or None, stderr bytes or None).
    '''
    return executor_for_platform().run_sandbox(
        command, cwd=cwd, env=env, filesystem_root=filesystem_root,
        filesystem_writable_paths=filesystem_writable_paths, mounts=mounts,
        extra_mounts=extra_mounts, network=network, stderr=stderr,
        stdout=stdout)


def run_sandbox_with_redirection(command, **sandbox_config):
    '''Start a subprocess in a sandbox, redirecting stderr and/or stdout.

    Returns just the exit code.
    '''
    exit, out, err = run_sandbox(command, **sandbox_config)
    return exit


def get_executor(name):
    '''Return the execution module with the given name.

    KeyError is raised if the backend isn't found. '-' is read as '_', so
    "linux-user-chroot" gives the "linux_user_chroot" module.
    '''
    name = name.replace('-', '_')
    name = _ALIASES.get(name, name)
    if name not in _EXECUTOR_NAMES:
        raise KeyError(
            "%s is not a known executor in this version of 'sandboxlib'." %
            name)
    return globals()[name]


_detected = []


def _detect_backend():
    '''The backend the executable chooses on this host (sandboxlib check).'''
    if not _detected:
        from sandboxlib import _executable
        _detected.append(_executable.default_backend())
    return _detected[0]


def executor_for_platform():
    '''Returns an execution module that will work on the current platform.

    SANDBOXLIB_BACKEND in the environment overrides the detection (an
    unknown value gives a warning, then detection). Detection asks the
    executable (`sandboxlib check`): where its linux backend works, that is
    the 'bubblewrap' module (the original's first preference), else 'chroot'.
    '''
    log = logging.getLogger('sandboxlib')

    backend = None

    if 'SANDBOXLIB_BACKEND' in os.environ:
        backend_name = os.environ['SANDBOXLIB_BACKEND']
        log.info("Got %s from SANDBOXLIB_BACKEND variable.", backend_name)
        try:
            backend = get_executor(backend_name)
        except KeyError:
            warnings.warn(
                "SANDBOXLIB_BACKEND environment variable is set to an invalid "
                "value %s." % backend_name)

    if backend is None:
        detected = _detect_backend()
        log.info("The sandboxlib executable chose its '%s' backend.", detected)
        backend = bubblewrap if detected == 'linux' else chroot

    return backend


def validate_extra_mounts(extra_mounts):
    '''Validate and fill in default values for 'extra_mounts' setting.'''
    if extra_mounts is None:
        return []

    new_extra_mounts = []

    for mount_entry in extra_mounts:
        if mount_entry[1] is None:
            raise AssertionError(
                "Mount point empty in mount entry %s" % str(mount_entry))

        if len(mount_entry) == 3:
            full_mount_entry = list(mount_entry) + ['']
        elif len(mount_entry) == 4:
            full_mount_entry = list(mount_entry)
        else:
            raise AssertionError(
                "Invalid mount entry in 'extra_mounts': %s" % str(mount_entry))

        # Every field a string; None is the empty string (str(None) would
        # be "None").
        new_extra_mounts.append(
            ['' if item is None else str(item) for item in full_mount_entry])

    return new_extra_mounts


# Executors
from sandboxlib import chroot  # noqa: E402
from sandboxlib import linux_user_chroot  # noqa: E402
from sandboxlib import bubblewrap  # noqa: E402

from sandboxlib import load  # noqa: E402
