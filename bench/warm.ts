// Warm: N sandboxes from one process, against N separate bwrap invocations.
// This is what a build tool that runs many small steps pays per step once
// sandboxlib is already running (library API, or the `batch` subcommand).
import { join } from "node:path";
import { trackChild, yieldToSignals } from "./cleanup.ts";
import { failureText, mustRun, output, succeeded } from "./proc.ts";
import { settle } from "./settle.ts";
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

/** N sandboxes, `jobs` at a time: total wall time / N. */
export interface WarmConcurrent {
  jobs: number;
  /** `sandboxlib batch --jobs J`. */
  batch: WarmBatch;
  /** N bwrap invocations, J at a time (xargs -P J), as a build tool runs them. */
  bwrap_per_invocation_ms: number;
  /** J C floors side by side, N in all. */
  floor_ms: number;
}

export interface WarmResult {
  n: number;
  /** Rounds of every warm phase; each figure below is from its median round. */
  rounds: number;
  /** Each round's per-sandbox figures, in round order, for the record. */
  per_round: {
    library_mean_ms: number[];
    batch_ms: (number | null)[];
    bwrap_ms: number[];
    floor_ms: number[];
    concurrent_batch_ms: (number | null)[];
    concurrent_bwrap_ms: number[];
    concurrent_floor_ms: number[];
  };
  library: WarmLibrary;
  batch: WarmBatch;
  bwrap: WarmBwrap;
  /** bench/floor.c: mean ms per sandbox of the same isolation in C alone. */
  floor_ms: number;
  concurrent: WarmConcurrent;
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

/** A batch line's config for the warm sandboxes: /bin/true, the isolation bwrap is given. */
export function warmSandboxConfig(root: string): Record<string, unknown> {
  return { command: ["/bin/true"], filesystem_root: root, network: "isolated", extra_mounts: [[null, "/proc", "proc"]], filesystem_writable_paths: "none" };
}

export async function warmBatch(bin: string, root: string, n: number, jobs: number): Promise<WarmBatch> {
  const missing = batchUnavailable(bin);
  if (missing) return { per_sandbox_ms: null, total_ms: null, note: missing };
  const line = (i: number) => JSON.stringify({ id: String(i), ...warmSandboxConfig(root) });
  const input = Buffer.from(`${Array.from({ length: n }, (_, i) => line(i)).join("\n")}\n`);
  const argv = [bin, "batch", "--jobs", String(jobs)];
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

/** The warm peer: bwrap with the warm sandboxes' isolation, running /bin/true. */
const BWRAP_TRUE = (root: string) => ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", root, "/", "--proc", "/proc", "/bin/true"];

export async function warmBwrap(root: string, n: number): Promise<WarmBwrap> {
  const argv = BWRAP_TRUE(root);
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

/** N bwrap invocations, `jobs` at a time, from xargs: total wall time / N. */
export function warmBwrapConcurrent(root: string, n: number, jobs: number): number {
  const lines = Array.from({ length: n }, (_, i) => String(i)).join("\n");
  const argv = ["xargs", "-P", String(jobs), "-I", "{}", ...BWRAP_TRUE(root)];
  const start = performance.now();
  const r = Bun.spawnSync(argv, { stdin: Buffer.from(`${lines}\n`), stdout: "ignore", stderr: "pipe", timeout: 300_000, killSignal: "SIGKILL" });
  const ms = performance.now() - start;
  // xargs exits 123 when any invocation failed: a figure for failed runs would be a fake.
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (exit ${r.exitCode}): ${r.stderr.toString().trim().split("\n")[0]}`);
  return ms / n;
}

/** `jobs` C floors side by side, N sandboxes in all: total wall time / N. */
export async function floorConcurrent(floor: string, root: string, n: number, jobs: number): Promise<number> {
  const each = Math.ceil(n / jobs);
  const start = performance.now();
  const procs = Array.from({ length: jobs }, () => Bun.spawn([floor, root, String(each)], { stdout: "ignore", stderr: "pipe", timeout: 300_000, killSignal: "SIGKILL" }));
  const untrack = procs.map(trackChild);
  const codes = await Promise.all(procs.map((p) => p.exited));
  const ms = performance.now() - start;
  for (const u of untrack) u();
  if (codes.some((c) => c !== 0)) throw new Error(`${floor} ${root} ${each} failed (exits ${codes.join(", ")})`);
  return ms / (each * jobs);
}

/** The item whose `key` is the median (the lower middle one for an even count; nulls last). */
function medianBy<T>(items: readonly T[], key: (item: T) => number | null): T {
  const sorted = [...items].sort((a, b) => (key(a) ?? Infinity) - (key(b) ?? Infinity));
  return sorted[(sorted.length - 1) >> 1]!;
}

type Round = Omit<WarmResult, "rounds" | "per_round">;

async function warmRound(bin: string, root: string, n: number, floor: string, jobs: number, log: (line: string) => void): Promise<Round> {
  // Each phase starts on a quiet machine (see settle.ts).
  const phase = async <T>(what: string, measure: () => T | Promise<T>): Promise<T> => {
    await settle();
    log(`warm: ${what}`);
    return measure();
  };
  const library = await phase(`library API, ${n} sandboxes`, () => warmLibrary(root, n));
  const batch = await phase(`sandboxlib batch --jobs 1, ${n} sandboxes`, () => warmBatch(bin, root, n, 1));
  const bwrap = await phase(`${n} bwrap invocations`, () => warmBwrap(root, n));
  const floorMs = await phase(`C floor, ${n} sandboxes`, () => Number(output([floor, root, String(n)], 300_000).trim()));
  if (!Number.isFinite(floorMs)) throw new Error(`${floor} printed no figure`);
  const concurrent: WarmConcurrent = {
    jobs,
    batch: await phase(`sandboxlib batch --jobs ${jobs}, ${n} sandboxes`, () => warmBatch(bin, root, n, jobs)),
    bwrap_per_invocation_ms: await phase(`${n} bwrap invocations, ${jobs} at a time (xargs -P ${jobs})`, () => warmBwrapConcurrent(root, n, jobs)),
    floor_ms: await phase(`${jobs} C floors side by side, ${n} sandboxes in all`, () => floorConcurrent(floor, root, n, jobs)),
  };
  return { n, library, batch, bwrap, floor_ms: floorMs, concurrent };
}

/**
 * `rounds` rounds of every warm phase, one after another, so that a drift of
 * the machine lands on all of them; each figure is its median round's.
 */
export async function runWarm(bin: string, root: string, n: number, floor: string, jobs: number, rounds: number, log: (line: string) => void): Promise<WarmResult> {
  const all: Round[] = [];
  for (let i = 0; i < rounds; i++) {
    log(`warm: round ${i + 1} of ${rounds}`);
    all.push(await warmRound(bin, root, n, floor, jobs, log));
  }
  const c = all.map((r) => r.concurrent);
  return {
    n,
    rounds,
    per_round: {
      library_mean_ms: all.map((r) => r.library.mean_ms),
      batch_ms: all.map((r) => r.batch.per_sandbox_ms),
      bwrap_ms: all.map((r) => r.bwrap.per_invocation_ms),
      floor_ms: all.map((r) => r.floor_ms),
      concurrent_batch_ms: c.map((x) => x.batch.per_sandbox_ms),
      concurrent_bwrap_ms: c.map((x) => x.bwrap_per_invocation_ms),
      concurrent_floor_ms: c.map((x) => x.floor_ms),
    },
    library: medianBy(all, (r) => r.library.mean_ms).library,
    batch: medianBy(all, (r) => r.batch.per_sandbox_ms).batch,
    bwrap: medianBy(all, (r) => r.bwrap.per_invocation_ms).bwrap,
    floor_ms: medianBy(all, (r) => r.floor_ms).floor_ms,
    concurrent: {
      jobs,
      batch: medianBy(c, (x) => x.batch.per_sandbox_ms).batch,
      bwrap_per_invocation_ms: medianBy(c, (x) => x.bwrap_per_invocation_ms).bwrap_per_invocation_ms,
      floor_ms: medianBy(c, (x) => x.floor_ms).floor_ms,
    },
  };
}
