// Warm: N sandboxes from one process, against N separate bwrap invocations.
// This is what a build tool that runs many small steps pays per step once
// sandboxlib is already running (library API, or the `batch` subcommand).
import { join } from "node:path";
import { trackChild, yieldToSignals } from "./cleanup.ts";
import { failureText, mustRun, output, succeeded } from "./proc.ts";
import { summarize, type Summary } from "./stats.ts";

export interface WarmLibrary {
  n: number;
  median_ms: number;
  mean_ms: number;
  p90_ms: number;
  first_ms: number;
  total_ms: number;
}

export interface WarmBatch {
  /** Total wall time of the batch process / N; null when batch is unavailable. */
  per_sandbox_ms: number | null;
  total_ms: number | null;
  note: string | null;
}

export interface WarmBwrap {
  /** The N back-to-back invocations' wall times, summed, / N. */
  per_invocation_ms: number;
  ms: Summary;
}

export interface WarmResult {
  n: number;
  library: WarmLibrary;
  batch: WarmBatch;
  bwrap: WarmBwrap;
  /** bench/floor.c: mean ms per sandbox of the same isolation in C alone. */
  floor_ms: number;
}

/** Runs bench/warm-library.ts in its own Bun process: its heap and helper are its own. */
export function warmLibrary(root: string, n: number): WarmLibrary {
  const text = output([process.execPath, join(import.meta.dir, "warm-library.ts"), root, String(n)], 300_000);
  return JSON.parse(text) as WarmLibrary;
}

/** Says why `sandboxlib batch` cannot be measured, or null when it exists. */
export function batchUnavailable(bin: string): string | null {
  const argv = [bin, "batch", "--help"];
  const r = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 10_000, killSignal: "SIGKILL" });
  const said = `${r.stdout.toString()}${r.stderr.toString()}`.trim();
  if (r.exitCode !== 0 || /unknown command/i.test(said)) return `\`sandboxlib batch\` is not available in this build (${argv.slice(1).join(" ")}: exit ${r.exitCode}: ${said.split("\n")[0]})`;
  return null;
}

export async function warmBatch(bin: string, root: string, n: number): Promise<WarmBatch> {
  const missing = batchUnavailable(bin);
  if (missing) return { per_sandbox_ms: null, total_ms: null, note: missing };
  const line = (i: number) =>
    JSON.stringify({ id: String(i), command: ["/bin/true"], filesystem_root: root, network: "isolated", extra_mounts: [[null, "/proc", "proc"]], filesystem_writable_paths: "none" });
  const input = Buffer.from(`${Array.from({ length: n }, (_, i) => line(i)).join("\n")}\n`);
  const argv = [bin, "batch", "--jobs", "1"];
  const start = performance.now();
  const timeoutMs = 300_000;
  const proc = Bun.spawn(argv, { stdin: input, stdout: "pipe", stderr: "pipe", timeout: timeoutMs, killSignal: "SIGKILL" });
  const untrack = trackChild(proc);
  const [out, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const totalMs = performance.now() - start;
  untrack();
  const signal = proc.signalCode === null ? null : String(proc.signalCode);
  const timedOut = signal !== null && totalMs >= timeoutMs;
  if (!succeeded({ exitCode, signal, timedOut })) {
    return { per_sandbox_ms: null, total_ms: null, note: `batch failed: ${failureText(argv, { exitCode, signal, timedOut, stderr })}` };
  }
  // A figure for sandboxes that did not run would be a fake: check every result.
  const results = out.split("\n").filter((l) => l.trim() !== "");
  if (results.length !== n) return { per_sandbox_ms: null, total_ms: null, note: `batch wrote ${results.length} result lines for ${n} inputs` };
  for (const text of results) {
    let result: { exit_code?: unknown };
    try {
      result = JSON.parse(text) as { exit_code?: unknown };
    } catch {
      return { per_sandbox_ms: null, total_ms: null, note: `batch wrote a line that is not JSON: ${text.slice(0, 200)}` };
    }
    if (result.exit_code !== 0) return { per_sandbox_ms: null, total_ms: null, note: `a batch sandbox did not succeed: ${text.slice(0, 300)}` };
  }
  return { per_sandbox_ms: totalMs / n, total_ms: totalMs, note: null };
}

export async function warmBwrap(root: string, n: number): Promise<WarmBwrap> {
  const argv = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", root, "/", "--proc", "/proc", "/bin/true"];
  const samples: number[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const ms = mustRun(argv, { timeoutMs: 10_000 }).ms;
    samples.push(ms);
    // Summed rather than timed end to end: the yields between invocations
    // are the harness's, not bwrap's.
    total += ms;
    await yieldToSignals();
  }
  return { per_invocation_ms: total / n, ms: summarize(samples) };
}

export async function runWarm(bin: string, root: string, n: number, floor: string, log: (line: string) => void): Promise<WarmResult> {
  log(`warm: library API, ${n} sandboxes`);
  const library = warmLibrary(root, n);
  log(`warm: sandboxlib batch --jobs 1, ${n} sandboxes`);
  const batch = await warmBatch(bin, root, n);
  log(`warm: ${n} bwrap invocations`);
  const bwrap = await warmBwrap(root, n);
  log(`warm: C floor, ${n} sandboxes`);
  const floorMs = Number(output([floor, root, String(n)], 300_000).trim());
  if (!Number.isFinite(floorMs)) throw new Error(`${floor} printed no figure`);
  return { n, library, batch, bwrap, floor_ms: floorMs };
}
