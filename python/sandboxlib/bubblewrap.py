'''Execute command in a sandbox, as 'bubblewrap' did: the executable's linux
backend (mount, PID, IPC and UTS namespaces, network too when isolated,
pivot_root). bwrap itself is not needed.

This implements the API defined in sandboxlib/__init__.py.
'''

import sandboxlib
from sandboxlib import _executable, _executor

#: The executable's backend that runs this module's sandboxes.
BACKEND = 'linux'

CAPABILITIES = {
    'network': ['undefined', 'isolated'],
    'mounts': ['undefined', 'isolated'],
    'filesystem_writable_paths': ['all', 'none', 'any'],
}


def degrade_config_for_capabilities(in_config, warn=True):
    return _executor.degrade(in_config, warn, CAPABILITIES, 'bubblewrap')


def get_program():
    '''The sandboxlib executable (ProgramNotFound if there is none).'''
    return _executable.find_program()


def run_sandbox(command, cwd=None, env=None,
                filesystem_root='/', filesystem_writable_paths='all',
                mounts='undefined', extra_mounts=None,
                network='undefined',
                stderr=sandboxlib.CAPTURE, stdout=sandboxlib.CAPTURE):
    return _executable.run(
        BACKEND, command, cwd, env, filesystem_root,
        filesystem_writable_paths, mounts, extra_mounts, network,
        stdout, stderr)


def run_sandbox_with_redirection(command, **sandbox_config):
    exit, out, err = run_sandbox(command, **sandbox_config)
    # out and err will be None
    return exit
