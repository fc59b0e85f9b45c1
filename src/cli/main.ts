// sandboxlib's command line: parse, build the library options, run, report.
import pkg from "../../package.json" with { type: "json" };
import { SandboxError, EXIT_SETUP_FAILED, usageError } from "../config/errors.ts";
import type { SandboxOptions } from "../config/options.ts";
import { CAPTURE, type ErrorTarget, type InputSource, type OutputTarget, STDOUT } from "../config/types.ts";
import type { Executor } from "../executors/executor.ts";
import { EXECUTORS, executorForPlatform, getExecutor } from "../executors/registry.ts";
import { close, isOpenFd, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, open, strerror, SysError, writeAll } from "../native/libc.ts";
import { signalAll } from "../supervise/active.ts";
import type { SandboxResult } from "../supervise/run.ts";
import { MAIN_HELP, RUN_HELP } from "./help.ts";
import { parseCommandLine, type RunRequest } from "./parse.ts";

/** Signals sandboxlib passes on to the command instead of dying of them. */
const FORWARDED = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 } as const;

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => (stream.write(text) ? resolve() : stream.once("drain", () => resolve())));
}

function openFile(path: string, what: string, flags: number): number {
  try {
    return open(path, flags, 0o666);
  } catch (e) {
    throw usageError(`cannot open ${what} file: ${path}: ${e instanceof SysError ? strerror(e.errno) : String(e)}`);
  }
}

function buildOptions(req: RunRequest, opened: number[]): SandboxOptions {
  let env: Record<string, string> | null = null;
  if (req.clearEnv || req.env.length) {
    env = req.clearEnv ? {} : { ...(process.env as Record<string, string>) };
    for (const [k, v] of req.env) env[k] = v;
  }
  let stdout: OutputTarget = req.json ? CAPTURE : 1;
  let stderr: ErrorTarget = req.json ? CAPTURE : 2;
  const output = (path: string, what: string) => {
    const fd = openFile(path, what, O_WRONLY | O_CREAT | O_TRUNC);
    opened.push(fd);
    return fd;
  };
  if (req.stdoutFile !== null) stdout = output(req.stdoutFile, "stdout");
  if (req.stderrFile === "stdout") stderr = STDOUT;
  else if (req.stderrFile !== null) stderr = output(req.stderrFile, "stderr");
  let stdin: InputSource;
  if (req.stdinFile === "null") stdin = null;
  else if (req.stdinFile !== null) {
    stdin = openFile(req.stdinFile, "stdin", O_RDONLY);
    opened.push(stdin);
  }
  for (const fd of req.passFds) if (!isOpenFd(fd)) throw usageError(`invalid value for --pass-fd: ${fd} (not an open file descriptor)`);
  const options: SandboxOptions = {
    filesystemRoot: req.root,
    cwd: req.cwd,
    env,
    extraMounts: req.extraMounts,
    filesystemWritablePaths: req.writable.length ? req.writable : req.readOnly ? "none" : "all",
    hostname: req.hostname,
    stdin,
    stdout,
    stderr,
    timeout: req.timeout,
    passFds: req.passFds,
    newSession: !req.shareSession,
    capAdd: req.capAdd,
    capDrop: req.capDrop,
    uid: req.uid,
    gid: req.gid,
    seccomp: req.seccomp,
    rlimits: req.rlimits,
    memory: req.memory,
    pids: req.pids,
    cpus: req.cpus,
    measureMemory: req.json || req.statusFd !== null,
  };
  if (req.killAfter !== null) options.killAfter = req.killAfter;
  if (req.network) options.network = req.network;
  if (req.mounts) options.mounts = req.mounts;
  return options;
}

/** Bytes as a JSON string when they are UTF-8, else base64 (said in `*_encoding`). */
function jsonStream(name: string, bytes: Uint8Array | null): Record<string, string | null> {
  if (bytes === null) return { [name]: null };
  try {
    return { [name]: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { [name]: Buffer.from(bytes).toString("base64"), [`${name}_encoding`]: "base64" };
  }
}

/** The fields --status-fd and --json report about a finished run. */
function statusFields(result: SandboxResult): Record<string, unknown> {
  return {
    exit_code: result.exitCode,
    signal: result.signal,
    setup_failed: false,
    timed_out: result.timedOut,
    oom_killed: result.oomKilled,
    wall_ms: round(result.usage.wallMs),
    user_ms: round(result.usage.userMs),
    sys_ms: round(result.usage.sysMs),
    max_rss_kb: result.usage.maxRssKb,
  };
}

/** The same fields when sandboxlib failed before the command could run. */
function failureFields(error: SandboxError, startedAt: number): Record<string, unknown> {
  return {
    exit_code: error.exitCode,
    signal: null,
    setup_failed: true,
    error: error.message,
    step: error.step,
    timed_out: false,
    oom_killed: false,
    wall_ms: round(performance.now() - startedAt),
    user_ms: 0,
    sys_ms: 0,
    max_rss_kb: null,
  };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

async function run(req: RunRequest): Promise<number> {
  const startedAt = performance.now();
  const opened: number[] = [];
  const handlers: [string, () => void][] = Object.entries(FORWARDED).map(([name, num]) => [name, () => void signalAll(num)]);
  for (const [name, handler] of handlers) process.on(name, handler);
  const status = req.statusFd;
  if (status !== null && !isOpenFd(status)) throw usageError(`invalid value for --status-fd: ${status} (not an open file descriptor)`);
  const report = (fields: Record<string, unknown>) => {
    if (status !== null) writeAll(status, Buffer.from(`${JSON.stringify(fields)}\n`));
  };
  try {
    const executor: Executor = req.backend ? getExecutor(req.backend) : executorForPlatform();
    let options = buildOptions(req, opened);
    if (req.degrade) options = executor.degradeConfigForCapabilities(options);
    options.onStart = (pid) => report({ child_pid: pid });
    const result = await executor.runSandbox(req.command, options);
    report(statusFields(result));
    if (req.json) await write(process.stdout, `${JSON.stringify({ ...statusFields(result), ...jsonStream("stdout", result.stdout), ...jsonStream("stderr", result.stderr) })}\n`);
    if (result.oomKilled) await write(process.stderr, `sandboxlib: the command was killed: out of memory (limit ${req.memory} bytes)\n`);
    else if (result.timedOut) await write(process.stderr, `sandboxlib: the command timed out after ${req.timeout}s\n`);
    return result.exitCode;
  } catch (e) {
    if (e instanceof SandboxError) {
      report(failureFields(e, startedAt));
      if (req.json) await write(process.stdout, `${JSON.stringify({ ...failureFields(e, startedAt), stdout: null, stderr: null })}\n`);
    }
    throw e;
  } finally {
    for (const fd of opened) close(fd);
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}

/** Runs the command line; resolves to the exit status. Never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const req = parseCommandLine(argv);
    switch (req.kind) {
      case "help":
        await write(process.stdout, req.topic === "run" ? RUN_HELP : MAIN_HELP);
        return 0;
      case "version":
        await write(process.stdout, `sandboxlib ${pkg.version}\n`);
        return 0;
      case "capabilities": {
        const list = req.backend ? [getExecutor(req.backend)] : EXECUTORS;
        const caps = Object.fromEntries(list.map((e) => [e.name, e.CAPABILITIES]));
        await write(process.stdout, `${JSON.stringify(req.backend ? caps[list[0]!.name] : caps, null, 2)}\n`);
        return 0;
      }
      case "run":
        return await run(req);
    }
  } catch (e) {
    if (e instanceof SandboxError) {
      await write(process.stderr, `sandboxlib: ${e.message}\n`);
      return e.exitCode;
    }
    const detail = process.env.SANDBOXLIB_DEBUG && e instanceof Error ? `\n${e.stack}` : "";
    await write(process.stderr, `sandboxlib: internal error: ${e instanceof Error ? e.message : String(e)}${detail}\n`);
    return EXIT_SETUP_FAILED;
  }
}
