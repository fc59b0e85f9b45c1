// The text of --help; README.md documents the same.
export const MAIN_HELP = `sandboxlib: run a command in a Linux sandbox

Usage:
  sandboxlib run [OPTIONS] [--] COMMAND [ARG...]
  sandboxlib capabilities [--backend NAME]   the backends' CAPABILITIES as JSON
  sandboxlib --help | --version

Run 'sandboxlib run --help' for the options of run.

Exit status: the command's own; 128+N when it is killed by signal N;
124 when it timed out; 125 when sandboxlib fails (usage, configuration,
setup); 126 when the command cannot be executed; 127 when it is not found.
`;

export const RUN_HELP = `Usage: sandboxlib run [OPTIONS] [--] COMMAND [ARG...]

Options stop at '--' or at the first argument that is not an option.

  --root DIR                  filesystem_root (default /)
  --backend NAME              chroot | linux  (default: SANDBOXLIB_BACKEND,
                              else the best available)
  --cwd DIR                   working directory inside the sandbox
                              (default / with --root, else the current one)
  --env NAME=VALUE            set a variable (repeatable)
  --clear-env                 start from an empty environment
  --mount SRC:TARGET:TYPE[:OPTIONS]
                              one extra_mounts entry, fstab style
                              (SRC may be empty or 'none')
  --bind SRC:TARGET           bind SRC (a host path) on TARGET
  --ro-bind SRC:TARGET        the same, read-only (submounts included)
  --proc TARGET               mount proc on TARGET
  --tmpfs TARGET              mount a tmpfs on TARGET
  --dev TARGET                a minimal /dev on TARGET: null, zero, full,
                              random, urandom, tty, pts, shm, fd, std*
  --writable PATH             add to filesystem_writable_paths (repeatable;
                              everything else becomes read-only)
  --read-only                 filesystem_writable_paths = none
  --network undefined|isolated
  --mounts undefined|isolated
  --hostname NAME             hostname inside (linux backend; default sandbox)
  --degrade                   downgrade unsupported settings with a warning
  --stdout FILE               write the command's stdout to FILE
  --stderr FILE|stdout        write stderr to FILE, or merge it into stdout
  --stdin FILE|null           the command's stdin (default: sandboxlib's)
  --json                      capture both streams; print one JSON object
                              {"exit_code", "signal", "stdout", "stderr", ...}
  --status-fd N               write JSON lines to fd N: {"child_pid"} at
                              start, then the result (as --json, no output)

Process control and hardening:
  --timeout SECONDS           SIGTERM at the deadline, exit status 124
  --kill-after SECONDS        then SIGKILL if still running (default 5)
  --pass-fd N                 keep fd N open in the command (repeatable)
  --share-session             keep the caller's session (no setsid)
  --cap-add NAME              keep a capability beyond Docker's default set
  --cap-drop NAME|ALL         drop one, or all
  --uid N  --gid N            run as this user and group (no supplementary
                              groups; --gid defaults to --uid)
  --seccomp on|off            the default seccomp filter (default on)
  --rlimit NAME=SOFT[:HARD]   setrlimit: nofile, nproc, as, cpu, fsize, core,
                              ... (values or 'unlimited'; repeatable)
  --memory BYTES              cgroup memory limit (k, M, G suffixes)
  --pids N                    cgroup limit on the command's processes
  --cpus FLOAT                cgroup CPU limit
  --help                      this text

Exit status: the command's own; 128+N when it is killed by signal N;
124 when it timed out; 125 when sandboxlib fails (usage, configuration,
setup); 126 when the command cannot be executed; 127 when it is not found.
`;
