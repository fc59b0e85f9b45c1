'''Execute command in a sandbox, using chroot(): the executable's chroot backend.

This implements the API defined in sandboxlib/__init__.py. As in the
original, the command shares the host's network, mounts and process table,
and the whole root is writable; extra_mounts are made in a mount namespace
of the sandbox's own and gone when it ends. Must be run as root.
'''

import sandboxlib
from sandboxlib import _executable, _executor

#: The executable's backend that runs this module's sandboxes.
BACKEND = 'chroot'

CAPABILITIES = {
    'network': ['undefined'],
    'mounts': ['undefined'],
    'filesystem_writable_paths': ['all'],
}


def degrade_config_for_capabilities(in_config, warn=True):
    return _executor.degrade(in_config, warn, CAPABILITIES, 'chroot')


def get_program():
    '''The sandboxlib executable (ProgramNotFound if there is none).'''
    return _executable.find_program()


def run_sandbox(command, cwd=None, env=None,
                filesystem_root='/', filesystem_writable_paths='all',
                mounts='undefined', extra_mounts=None,
                network='undefined',
                stdout=sandboxlib.CAPTURE, stderr=sandboxlib.CAPTURE):
    return _executable.run(
        BACKEND, command, cwd, env, filesystem_root,
        filesystem_writable_paths, mounts, extra_mounts, network,
        stdout, stderr)


def run_sandbox_with_redirection(command, **sandbox_config):
    exit, out, err = run_sandbox(command, **sandbox_config)
    # out and err will be None
    return exit
