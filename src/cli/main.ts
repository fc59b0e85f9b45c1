// sandboxlib's command line: parse, build the library options, run, report.
import pkg from "../../package.json" with { type: "json" };
import { SandboxError, EXIT_SETUP_FAILED, usageError } from "../config/errors.ts";
import type { SandboxOptions } from "../config/options.ts";
import { CAPTURE, type ErrorTarget, type OutputTarget, STDOUT } from "../config/types.ts";
import type { Executor } from "../executors/executor.ts";
import { EXECUTORS, executorForPlatform, getExecutor } from "../executors/registry.ts";
import { close, O_CREAT, O_TRUNC, O_WRONLY, open, SysError } from "../native/libc.ts";
import { signalAll } from "../supervise/active.ts";
import type { SandboxResult } from "../supervise/run.ts";
import { MAIN_HELP, RUN_HELP } from "./help.ts";
import { parseCommandLine, type RunRequest } from "./parse.ts";

/** Signals sandboxlib passes on to the command instead of dying of them. */
const FORWARDED = { SIGINT: 2, SIGTERM: 15 } as const;

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => (stream.write(text) ? resolve() : stream.once("drain", () => resolve())));
}

function openOutput(path: string, what: string): number {
  try {
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o666);
  } catch (e) {
    throw usageError(`cannot open ${what} file: ${path}: ${e instanceof SysError ? e.message.replace(/^open \S+: /, "") : String(e)}`);
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
  if (req.stdoutFile !== null) {
    stdout = openOutput(req.stdoutFile, "stdout");
    opened.push(stdout);
  }
  if (req.stderrFile === "stdout") stderr = STDOUT;
  else if (req.stderrFile !== null) {
    stderr = openOutput(req.stderrFile, "stderr");
    opened.push(stderr);
  }
  const options: SandboxOptions = {
    filesystemRoot: req.root,
    cwd: req.cwd,
    env,
    extraMounts: req.extraMounts,
    filesystemWritablePaths: req.writable.length ? req.writable : req.readOnly ? "none" : "all",
    hostname: req.hostname,
    stdout,
    stderr,
  };
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

function resultJson(result: SandboxResult): string {
  return JSON.stringify({
    exit_code: result.exitCode,
    signal: result.signal,
    ...jsonStream("stdout", result.stdout),
    ...jsonStream("stderr", result.stderr),
    wall_ms: Math.round(result.usage.wallMs * 1000) / 1000,
    user_ms: result.usage.userMs,
    sys_ms: result.usage.sysMs,
  });
}

async function run(req: RunRequest): Promise<number> {
  const executor: Executor = req.backend ? getExecutor(req.backend) : executorForPlatform();
  const opened: number[] = [];
  const handlers: [string, () => void][] = Object.entries(FORWARDED).map(([name, num]) => [name, () => void signalAll(num)]);
  for (const [name, handler] of handlers) process.on(name, handler);
  try {
    let options = buildOptions(req, opened);
    if (req.degrade) options = executor.degradeConfigForCapabilities(options);
    const result = await executor.runSandbox(req.command, options);
    if (req.json) await write(process.stdout, `${resultJson(result)}\n`);
    return result.exitCode;
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
