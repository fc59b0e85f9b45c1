'''Running the sandboxlib executable: its machine-readable protocol.

One sandbox is one ``sandboxlib run --backend B --config /proc/self/fd/N
--status-fd M``: the settings go in as JSON (the Python library's names), the
result comes back as JSON lines on the status descriptor (``{"child_pid"}``,
then the result). The command's output goes where the caller said: a pipe
read here (CAPTURE), the caller's own file descriptor (passed as the
executable's stdout/stderr, so nothing is copied through Python), or nowhere.
'''

import json
import logging
import os
import shutil
import subprocess
import tempfile

import sandboxlib

#: The environment variable naming the executable (else PATH is searched).
EXECUTABLE_VARIABLE = 'SANDBOXLIB_EXECUTABLE'


def find_program():
    '''The path of the sandboxlib executable; ProgramNotFound if there is none.'''
    given = os.environ.get(EXECUTABLE_VARIABLE)
    if given:
        if os.path.isfile(given) and os.access(given, os.X_OK):
            return given
        raise sandboxlib.ProgramNotFound(
            "%s=%s is not an executable file" % (EXECUTABLE_VARIABLE, given))
    search_path = os.environ.get('PATH')
    program_path = shutil.which('sandboxlib', path=search_path)
    if program_path is None:
        raise sandboxlib.ProgramNotFound(
            "Did not find 'sandboxlib' in PATH. Searched '%s' (or set %s)" % (
                search_path, EXECUTABLE_VARIABLE))
    return program_path


def _json_of(argv):
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        return json.loads(done.stdout.decode('utf-8'))
    except ValueError:
        raise RuntimeError('%s failed (exit %d): %s' % (
            ' '.join(argv), done.returncode,
            done.stderr.decode('utf-8', 'replace').strip()))


def default_backend():
    '''The backend the executable would choose here: 'linux' or 'chroot'.'''
    report = _json_of([find_program(), 'check', '--json'])
    return report.get('default_backend') or 'chroot'


def capabilities(backend):
    '''The executable's CAPABILITIES for one backend.'''
    return _json_of([find_program(), 'capabilities', '--backend', backend])


def _fd_of(stream):
    '''The descriptor of a file object, or the int given.'''
    if isinstance(stream, int):
        return stream
    if hasattr(stream, 'flush'):
        stream.flush()
    return stream.fileno()


def _output_setting(stream, is_stderr):
    '''(the config's setting, what Popen gets) for one stream.

    The executable's own stderr carries only its messages when the command's
    stderr goes elsewhere (merged, discarded); it is then read here.
    '''
    if stream == sandboxlib.CAPTURE:
        return 'inherit', subprocess.PIPE
    if stream is None:
        return None, (subprocess.PIPE if is_stderr else subprocess.DEVNULL)
    if is_stderr and stream == sandboxlib.STDOUT:
        return 'stdout', subprocess.PIPE
    return 'inherit', _fd_of(stream)


def _writable(paths):
    if paths is None or (isinstance(paths, (list, tuple)) and len(paths) == 0):
        return 'none'
    if isinstance(paths, tuple):
        return list(paths)
    return paths


def run(backend, command, cwd, env, filesystem_root,
        filesystem_writable_paths, mounts, extra_mounts, network,
        stdout, stderr):
    '''One sandbox: returns (exit, out, err) as the original did.

    A failure of sandboxlib before the command could run raises what the
    original raised for it: AssertionError for a setting that is invalid or
    unsupported, RuntimeError when the sandbox could not be set up. A command
    that is not found or cannot be executed is its exit status (127, 126),
    as from a shell.
    '''
    if isinstance(command, (str, bytes)):
        command = [command]
    config = {
        'command': [os.fsdecode(arg) for arg in command],
        'filesystem_root': os.fsdecode(filesystem_root),
        'filesystem_writable_paths': _writable(filesystem_writable_paths),
        'mounts': mounts,
        'network': network,
        'extra_mounts': sandboxlib.validate_extra_mounts(extra_mounts),
    }
    if cwd is not None:
        config['cwd'] = os.fsdecode(cwd)
    if env is not None:
        config['env'] = dict((os.fsdecode(k), os.fsdecode(v))
                             for k, v in env.items())
    config['stdout'], popen_stdout = _output_setting(stdout, False)
    config['stderr'], popen_stderr = _output_setting(stderr, True)

    program = find_program()
    status_r, status_w = os.pipe()
    with tempfile.TemporaryFile() as config_file:
        config_file.write(json.dumps(config).encode('utf-8'))
        config_file.flush()
        argv = [program, 'run', '--backend', backend,
                '--config', '/proc/self/fd/%d' % config_file.fileno(),
                '--status-fd', str(status_w)]
        log = logging.getLogger('sandboxlib')
        log.debug('Running: %s with %s', argv, config)
        try:
            process = subprocess.Popen(
                argv, stdout=popen_stdout, stderr=popen_stderr,
                pass_fds=(config_file.fileno(), status_w))
        finally:
            os.close(status_w)
        try:
            out, err = process.communicate()
        finally:
            with os.fdopen(status_r, 'rb') as status:
                lines = status.read().decode('utf-8').splitlines()

    result = None
    for line in lines:
        fields = json.loads(line)
        if 'exit_code' in fields:
            result = fields
    messages = (err or b'').decode('utf-8', 'replace').strip()
    if result is None:
        # Refused before a run began: the command line or the config.
        raise AssertionError(
            'sandboxlib refused the settings (exit %d): %s' % (
                process.returncode, messages or 'no message'))
    if result.get('setup_failed'):
        failure = result.get('failure')
        if failure == 'config':
            raise AssertionError(result.get('error'))
        if failure != 'command':
            raise RuntimeError(result.get('error'))
    if stdout != sandboxlib.CAPTURE:
        out = None
    if stderr != sandboxlib.CAPTURE:
        err = None
    return result['exit_code'], out, err
