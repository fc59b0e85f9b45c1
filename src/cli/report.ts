// The JSON that --json, --status-fd and batch report about a run.
import type { SandboxError } from "../config/errors.ts";
import type { SandboxResult } from "../supervise/run.ts";

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Bytes as a JSON string when they are UTF-8, else base64 (said in `*_encoding`). */
export function streamFields(name: string, bytes: Uint8Array | null): Record<string, string | null> {
  if (bytes === null) return { [name]: null };
  try {
    return { [name]: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { [name]: Buffer.from(bytes).toString("base64"), [`${name}_encoding`]: "base64" };
  }
}

/** The fields reported about a finished run (without its output). */
export function statusFields(result: SandboxResult): Record<string, unknown> {
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
export function failureFields(error: SandboxError, startedAt: number): Record<string, unknown> {
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

/** A run's result with its captured output, as --json prints it. */
export function resultWithOutput(result: SandboxResult): Record<string, unknown> {
  return { ...statusFields(result), ...streamFields("stdout", result.stdout), ...streamFields("stderr", result.stderr) };
}
