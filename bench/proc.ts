// Bounded child processes: every spawn has a timeout, and a failure says
// which command failed and what it wrote on stderr.
import { trackChild } from "./cleanup.ts";

export interface Timed {
  ms: number;
  exitCode: number;
  signal: string | null;
  timedOut: boolean;
  stderr: string;
}

export interface SyncOptions {
  timeoutMs: number;
  stdin?: "ignore" | "inherit";
  env?: Record<string, string | undefined>;
}

export const describe = (argv: readonly string[]) => argv.join(" ");

/** Runs argv to completion with stdout discarded; wall time from spawn to reap. */
export function timedSync(argv: readonly string[], options: SyncOptions): Timed {
  const start = performance.now();
  const r = Bun.spawnSync([...argv], {
    stdin: options.stdin ?? "ignore",
    stdout: "ignore",
    // Piped, not ignored, so that a failure can be explained; the variants
    // write nothing there when they succeed, so this costs every one the same.
    stderr: "pipe",
    timeout: options.timeoutMs,
    killSignal: "SIGKILL",
    env: options.env,
  });
  const ms = performance.now() - start;
  return {
    ms,
    exitCode: r.exitCode,
    signal: r.signalCode === undefined ? null : String(r.signalCode),
    timedOut: r.exitedDueToTimeout === true,
    stderr: r.stderr.toString(),
  };
}

export function failureText(argv: readonly string[], r: Pick<Timed, "exitCode" | "signal" | "timedOut" | "stderr">): string {
  const how = r.timedOut ? "timed out" : r.signal ? `killed by ${r.signal}` : `exited ${r.exitCode}`;
  return `${describe(argv)}: ${how}${r.stderr.trim() ? `: ${r.stderr.trim().slice(0, 500)}` : ""}`;
}

export const succeeded = (r: Pick<Timed, "exitCode" | "signal" | "timedOut">) => r.exitCode === 0 && r.signal === null && !r.timedOut;

/** timedSync that throws when the command fails: a benchmark of a failing command means nothing. */
export function mustRun(argv: readonly string[], options: SyncOptions): Timed {
  const r = timedSync(argv, options);
  if (!succeeded(r)) throw new Error(failureText(argv, r));
  return r;
}

export interface Streamed extends Timed {
  /** Bytes read from the command's stdout. */
  bytes: number;
}

/**
 * Runs argv with stdout piped into this process and counted chunk by chunk:
 * outputs of gigabytes are never held in memory.
 */
export async function countStdout(argv: readonly string[], options: { timeoutMs: number; stdin?: Uint8Array }): Promise<Streamed> {
  const start = performance.now();
  const proc = Bun.spawn([...argv], {
    stdin: options.stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs,
    killSignal: "SIGKILL",
  });
  const untrack = trackChild(proc);
  const count = async () => {
    let bytes = 0;
    const reader = proc.stdout.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return bytes;
      bytes += value.byteLength;
    }
  };
  const [bytes, stderr, exitCode] = await Promise.all([count(), new Response(proc.stderr).text(), proc.exited]);
  const ms = performance.now() - start;
  untrack();
  const signal = proc.signalCode === null ? null : String(proc.signalCode);
  // Bun reports a timeout kill only as the signal; the elapsed time tells them apart.
  const timedOut = signal !== null && ms >= options.timeoutMs;
  return { ms, exitCode, signal, timedOut, stderr, bytes };
}

/** Runs argv and returns its stdout as text (small outputs only: versions, JSON results). */
export function output(argv: readonly string[], timeoutMs: number): string {
  const r = Bun.spawnSync([...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs, killSignal: "SIGKILL" });
  if (r.exitCode !== 0 || r.exitedDueToTimeout) {
    throw new Error(failureText(argv, { exitCode: r.exitCode, signal: r.signalCode === undefined ? null : String(r.signalCode), timedOut: r.exitedDueToTimeout === true, stderr: r.stderr.toString() }));
  }
  return r.stdout.toString();
}
