// Run settings (command line, config file, batch line) turned into library
// options. Opens the files the settings name; the caller closes them.
import { shownValue, usageError } from "../base/errors.ts";
import type { SandboxOptions } from "../config/options.ts";
import { CAPTURE, type ErrorTarget, type InputSource, type OutputTarget, STDOUT } from "../config/types.ts";
import { isOpenFd, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, open, strerror, SysError } from "../native/libc.ts";
import { warn } from "./failure.ts";
import { notInheritedReason } from "./inherited-fds.ts";
import { applyJobserver } from "./jobserver.ts";
import type { OutputSetting, RunSettings } from "./settings.ts";

/**
 * `--pass-fd` and `--status-fd` name descriptors of sandboxlib's caller, never
 * sandboxlib's own (Bun's epoll and eventfd, our pipes): see inherited-fds.ts.
 */
export function checkInheritedFd(option: string, fd: number): void {
  if (!isOpenFd(fd)) throw usageError(`invalid value for ${option}: ${fd} (not an open file descriptor)`);
  const why = notInheritedReason(fd);
  if (why !== null) throw usageError(`invalid value for ${option}: ${fd} (${why})`);
}

function openFile(path: string, what: string, flags: number, opened: number[]): number {
  try {
    const fd = open(path, flags, 0o666);
    opened.push(fd);
    return fd;
  } catch (e) {
    throw usageError(`cannot open ${what} file: ${shownValue(path)}: ${e instanceof SysError ? strerror(e.errno) : String(e)}`);
  }
}

/**
 * `inheritFd` is where "inherit" goes: sandboxlib's own stream for `run`;
 * batch has no stream to give, so it captures instead.
 */
function outputTarget(setting: OutputSetting, what: string, inheritFd: number | null, captureAll: boolean, opened: number[]): OutputTarget {
  if (captureAll) return CAPTURE;
  switch (setting.kind) {
    case "inherit":
      return inheritFd ?? CAPTURE;
    case "null":
      return null;
    case "capture":
      return CAPTURE;
    case "file":
      return openFile(setting.path, what, O_WRONLY | O_CREAT | O_TRUNC, opened);
    case "stdout":
      throw usageError(`${what}: "stdout" is only for stderr`);
  }
}

export function toSandboxOptions(s: RunSettings, opened: number[], mode: "run" | "batch"): SandboxOptions {
  let env: Record<string, string> | null = null;
  if (s.clearEnv || s.env.length) {
    env = s.clearEnv ? {} : { ...(process.env as Record<string, string>) };
    for (const [k, v] of s.env) env[k] = v;
  }
  const inherit = (fd: number) => (mode === "run" ? fd : null);
  const stdout = outputTarget(s.stdout, "stdout", inherit(1), s.json, opened);
  const stderr: ErrorTarget = s.stderr.kind === "stdout" ? STDOUT : outputTarget(s.stderr, "stderr", inherit(2), s.json, opened);
  let stdin: InputSource = mode === "batch" ? null : undefined;
  if (s.stdinFile === "null") stdin = null;
  else if (s.stdinFile !== null) stdin = openFile(s.stdinFile, "stdin", O_RDONLY, opened);
  for (const fd of s.passFds) checkInheritedFd("--pass-fd", fd);
  const options: SandboxOptions = {
    filesystemRoot: s.root,
    cwd: s.cwd,
    env,
    extraMounts: s.extraMounts,
    filesystemWritablePaths: s.writable.length ? s.writable : s.readOnly ? "none" : "all",
    createWritablePaths: s.writableCreate,
    hostname: s.hostname,
    stdin,
    stdout,
    stderr,
    timeout: s.timeout,
    passFds: s.passFds,
    newSession: !s.shareSession,
    capAdd: s.capAdd,
    capDrop: s.capDrop,
    uid: s.uid,
    gid: s.gid,
    seccomp: s.seccomp,
    rlimits: s.rlimits,
    memory: s.memory,
    pids: s.pids,
    cpus: s.cpus,
    measureMemory: s.json || s.statusFd !== null,
  };
  if (s.jobserver) applyJobserver(options, process.env.MAKEFLAGS, warn);
  if (s.killAfter !== null) options.killAfter = s.killAfter;
  if (s.network) options.network = s.network;
  if (s.mounts) options.mounts = s.mounts;
  return options;
}
