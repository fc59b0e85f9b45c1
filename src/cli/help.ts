// The text of --help; README.md documents the same.
export const MAIN_HELP = `sandboxlib: run a command in a Linux sandbox

Usage:
  sandboxlib run [OPTIONS] [--] COMMAND [ARG...]
  sandboxlib run --config FILE|- [OPTIONS] [[--] COMMAND [ARG...]]
  sandboxlib batch [--jobs N] [FILE|-]       run JSON lines, print JSON results
  sandboxlib capabilities [--backend NAME]   the backends' CAPABILITIES as JSON
  sandboxlib check [--json]                  what this host supports, and why not
  sandboxlib --help | --version

--root takes a directory, a root filesystem tarball (plain, gzip, xz, zstd,
bzip2), an OCI image (layout directory or tar), a 'docker save' archive or an
App Container image (.aci), detected by content.

Run 'sandboxlib run --help' for the options of run, 'sandboxlib batch
--help' for batch.

Exit status: the command's own; 128+N when it is killed by signal N;
124 when it timed out; 125 when sandboxlib fails (usage, configuration,
setup); 126 when the command cannot be executed; 127 when it is not found.
`;

export const RUN_HELP = `Usage: sandboxlib run [OPTIONS] [--] COMMAND [ARG...]

Options stop at '--' or at the first argument that is not an option.

  --config FILE|-             one JSON object with the settings (Python
                              names: command, cwd, env, filesystem_root,
                              filesystem_writable_paths, mounts,
                              extra_mounts, network, stdout, stderr; and
                              the options below without '--'); options
                              given here override it

  --root DIR                  filesystem_root (default /)
  --backend NAME              chroot | linux  (default: SANDBOXLIB_BACKEND, else
                              linux where it can run, chroot with a warning where not)
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
  --image-ref REF             the image to use when an OCI index holds several
  --keep-root DIR             unpack an image or tarball into DIR and keep it
  --degrade                   downgrade unsupported settings with a warning
  --stdout FILE               write the command's stdout to FILE
  --stderr FILE|stdout        write stderr to FILE, or merge it into stdout
  --stdin FILE|null           the command's stdin (default: sandboxlib's)
  --json                      capture both streams; print one JSON object
                              {"exit_code", "signal", "stdout", "stderr", ...}
  --status-fd N               write JSON lines to fd N: {"child_pid"} at
                              start, then the result (as --json, no output)
  --print-plan                print the plan as JSON (backend, namespaces, the
                              sandbox process's steps) and exit 0: nothing is
                              run or created; needs a directory as --root

Process control and hardening:
  --timeout SECONDS           SIGTERM at the deadline, exit status 124
  --kill-after SECONDS        then SIGKILL if still running (default 5)
  --pass-fd N                 keep fd N (the caller's) open in the command
                              (repeatable)
  --share-session             keep the caller's session (no setsid)
  --cap-add NAME              keep a capability beyond Docker's default set
  --cap-drop NAME|ALL         drop one, or all
  --uid N  --gid N            run as this user and group (no supplementary
                              groups; --gid defaults to --uid)
  --seccomp on|off            the default seccomp filter (default on)
  --rlimit NAME=SOFT[:HARD]   setrlimit: nofile, nproc, as, cpu, fsize, core,
                              ... (values or 'unlimited'; repeatable)
  --memory BYTES              cgroup memory limit (k, M, G suffixes; at least 6M)
  --pids N                    cgroup limit on the command's processes
  --cpus FLOAT                cgroup CPU limit
  --help                      this text

Exit status: the command's own; 128+N when it is killed by signal N;
124 when it timed out; 125 when sandboxlib fails (usage, configuration,
setup); 126 when the command cannot be executed; 127 when it is not found.
`;

export const BATCH_HELP = `Usage: sandboxlib batch [--jobs N] [FILE|-]

Reads JSON lines (the --config schema, plus an optional "id") from FILE or
stdin and runs each in a sandbox, up to N at a time (default 1), from one
warm process. Writes one JSON line per input line, in input order, with
"line", "id" (when given), "exit_code", "signal", "setup_failed", "error",
"timed_out", "oom_killed", "wall_ms", "user_ms", "sys_ms", "max_rss_kb",
"cgroup_peak_kb", "stdout" and "stderr" (captured unless the line says otherwise). A failing
entry never stops the others; a malformed line gets an error result naming
its line number. Exit status 0 once every line has a result; 125 when the
input cannot be read.
`;
