// The text of --help. The options of `run` come from option-table.ts, as
// README.md's option table does (scripts/readme-options.ts).
import { helpLines } from "./option-table.ts";

export const MAIN_HELP = `sandboxlib: run a command in a Linux sandbox

Usage:
  sandboxlib run [OPTIONS] [--] COMMAND [ARG...]
  sandboxlib run --config FILE|- [OPTIONS] [[--] COMMAND [ARG...]]
  sandboxlib batch [--jobs N] [FILE|-]       run JSON lines, print JSON results
  sandboxlib capabilities [--backend NAME]   the backends' CAPABILITIES as JSON
  sandboxlib check [--json]                  what this host supports, and why not
  sandboxlib runner --listen unix:PATH --build-directory DIR [--config FILE]
                                             the runner of a Buildbarn worker
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

Options stop at '--' or at the first argument that is not an option. A
config file or batch line takes the same settings under their config keys
(see README.md's option table).

${helpLines("run")}

Process control and hardening:
${helpLines("control")}
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

export const RUNNER_HELP = `Usage: sandboxlib runner --listen unix:PATH --build-directory DIR [--config FILE]

Serves buildbarn.runner.Runner (gRPC) on the UNIX socket PATH, for a
Buildbarn bb_worker that shares the build directory DIR: each Run is one
sandbox (no network, its own namespaces, read-only outside the action's
input root and temporary directory, seccomp, Docker's capabilities), killed
whole at the call's deadline or cancellation. FILE is the runner's JSON
config (see docs/runner.md). Runs until SIGTERM or SIGINT.

Exit status: 0 when stopped by a signal; 125 when it cannot start (usage,
configuration, socket).
`;
