// Ratios, targets, the printed table and bench/results/latest.json. No
// measuring here: only arithmetic on what the other modules measured.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { track } from "./cleanup.ts";
import type { CaptureFigure, CaptureResult } from "./capture.ts";
import type { ColdResult } from "./cold.ts";
import type { MachineInfo } from "./machine.ts";
import type { MemoryResult } from "./memory.ts";
import { ratio } from "./stats.ts";
import { bytesLabel } from "./units.ts";
import type { WarmResult } from "./warm.ts";

export interface Comparison {
  figure: string;
  peer: string;
  /** figure / peer, in the unit the section says (time, or throughput). */
  ratio: number | null;
}

export interface Target {
  name: string;
  measured: number | null;
  unit: string;
  op: "<=" | ">=" | "<";
  limit: number;
  /** A run that failed misses its target; a figure never measured (a subcommand the build lacks) neither passes nor misses. */
  result: "pass" | "miss" | "failed" | "not measured";
}

export interface Results {
  machine: MachineInfo;
  parameters: { cold_rounds: number; cold_warmup_rounds: number; warm_n: number; capture_bytes: number; capture_repetitions: number; memory_repetitions: number; warm_rounds: number };
  cold: ColdResult;
  warm: WarmResult;
  capture: CaptureResult;
  memory: MemoryResult;
  comparisons: Comparison[];
  targets: Target[];
  notes: string[];
}

function target(name: string, measured: number | null, unit: string, op: Target["op"], limit: number, failed = false): Target {
  if (measured === null) return { name, measured, unit, op, limit, result: failed ? "failed" : "not measured" };
  const pass = op === "<=" ? measured <= limit : op === ">=" ? measured >= limit : measured < limit;
  return { name, measured, unit, op, limit, result: pass ? "pass" : "miss" };
}

const coldMedian = (cold: ColdResult, key: string) => cold.variants.find((v) => v.key === key)?.ms.median ?? null;
const captureFigure = (capture: CaptureResult, key: string): CaptureFigure | undefined => capture.figures.find((f) => f.key === key);
const rate = (capture: CaptureResult, key: string) => captureFigure(capture, key)?.mb_per_s ?? null;

/** The capture paths and the pipeline each is compared with (same producer, same sink). */
const CAPTURE_PEERS: readonly [string, string][] = [
  ["sandboxlib_file", "cat_file"],
  ["sandboxlib_json", "cat_pipe"],
  ["sandboxlib_json_text", "cat_pipe_text"],
  ["library_capture", "cat_pipe"],
];

const sum = (a: number | null, b: number | null) => (a === null || b === null ? null : a + b);

export function compare(cold: ColdResult, warm: WarmResult, capture: CaptureResult, memory: MemoryResult): { comparisons: Comparison[]; targets: Target[] } {
  const comparisons: Comparison[] = [];
  const sb = coldMedian(cold, "sandboxlib");
  for (const v of cold.variants) {
    if (v.key !== "sandboxlib") comparisons.push({ figure: "cold sandboxlib run (median ms)", peer: `${v.label} (median ms)`, ratio: ratio(sb, v.ms.median) });
  }
  const bwrapEach = warm.bwrap.per_invocation_ms;
  const jc = warm.concurrent;
  comparisons.push(
    { figure: "warm batch (total ms / N)", peer: "one bwrap invocation (total ms / N)", ratio: ratio(warm.batch.per_sandbox_ms, bwrapEach) },
    { figure: "warm library (mean ms)", peer: "one bwrap invocation (total ms / N)", ratio: ratio(warm.library.mean_ms, bwrapEach) },
    { figure: "warm library (median ms)", peer: "bwrap back to back (median ms)", ratio: ratio(warm.library.median_ms, warm.bwrap.ms.median) },
    // Floors: what no sandboxlib run can go below, against the same peer.
    { figure: "floor: empty Bun executable (median ms)", peer: "bwrap (median ms)", ratio: ratio(coldMedian(cold, "empty_bun"), coldMedian(cold, "bwrap")) },
    { figure: "floor: C sandbox (mean ms)", peer: "one bwrap invocation (total ms / N)", ratio: ratio(warm.floor_ms, bwrapEach) },
    { figure: "floor: C floor, one sandbox, cold (median ms)", peer: "bwrap (median ms)", ratio: ratio(coldMedian(cold, "c_floor"), coldMedian(cold, "bwrap")) },
    { figure: "warm batch (total ms / N)", peer: "C sandbox floor (mean ms)", ratio: ratio(warm.batch.per_sandbox_ms, warm.floor_ms) },
    { figure: `warm batch --jobs ${jc.jobs} (total ms / N)`, peer: "one bwrap invocation (total ms / N)", ratio: ratio(jc.batch.per_sandbox_ms, bwrapEach) },
    { figure: `warm batch --jobs ${jc.jobs} (total ms / N)`, peer: `bwrap, ${jc.jobs} at a time (total ms / N)`, ratio: ratio(jc.batch.per_sandbox_ms, jc.bwrap_per_invocation_ms) },
    { figure: `warm batch --jobs ${jc.jobs} (total ms / N)`, peer: `${jc.jobs} C floors side by side (total ms / N)`, ratio: ratio(jc.batch.per_sandbox_ms, jc.floor_ms) },
  );
  for (const [key, peer] of CAPTURE_PEERS) {
    comparisons.push({ figure: `${captureFigure(capture, key)?.label} (MB/s)`, peer: `${captureFigure(capture, peer)?.label} (MB/s)`, ratio: ratio(rate(capture, key), rate(capture, peer)) });
  }
  const targets: Target[] = [
    // Against the floors: a cold run may cost Bun's own start-up plus one
    // whole bwrap run; a batch of J at a time half of bwrap run J at a time.
    target("cold sandboxlib / (empty Bun executable + bwrap) (medians)", ratio(sb, sum(coldMedian(cold, "empty_bun"), coldMedian(cold, "bwrap"))), "x", "<=", 1),
    target(`warm batch --jobs ${jc.jobs} per sandbox / bwrap ${jc.jobs} at a time`, ratio(jc.batch.per_sandbox_ms, jc.bwrap_per_invocation_ms), "x", "<=", 0.5),
    ...CAPTURE_PEERS.map(([key, peer]) =>
      target(`capture ${captureFigure(capture, key)?.label} / ${captureFigure(capture, peer)?.label}`, ratio(rate(capture, key), rate(capture, peer)), "x", ">=", 0.8, captureFigure(capture, key)?.ms === null),
    ),
    ...memory.figures.filter((f) => !f.holdsOutput).map((f) => target(`peak RSS ${f.label} (max of ${f.samples_kib.length})`, f.kib.max, "KiB", "<", 64 * 1024)),
  ];
  return { comparisons, targets };
}

/** Left-aligned first column, right-aligned figures. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const num = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? "n/a" : x.toFixed(digits));
const times = (x: number | null) => (x === null ? "n/a" : `${x.toFixed(2)}x`);

export function formatResults(r: Results): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`sandboxlib benchmark, ${m.date}`);
  out.push(`${m.sandboxlib}, Bun ${m.bun}, ${m.bwrap}; kernel ${m.kernel}; ${m.nproc} CPUs (${m.cpu_model ?? "unknown CPU"}); load average ${m.load_average_1m.toFixed(2)} at the start`);

  const sb = coldMedian(r.cold, "sandboxlib");
  out.push("", `Cold start: one /bin/true per process, ${r.cold.rounds} interleaved rounds after ${r.cold.warmup_rounds} warm-up rounds (ms)`);
  out.push(table(["variant", "median", "p90", "mean", "sandboxlib/this"], r.cold.variants.map((v) => [v.label, num(v.ms.median), num(v.ms.p90), num(v.ms.mean), times(ratio(sb, v.ms.median))])));
  const emptyBun = coldMedian(r.cold, "empty_bun");
  const cFloor = coldMedian(r.cold, "c_floor");
  const harness = coldMedian(r.cold, "true");
  const bwrap = coldMedian(r.cold, "bwrap");
  out.push(`  floors: Bun's start-up alone (the empty Bun executable) is ${times(ratio(emptyBun, bwrap))} bwrap; the sandbox alone in C is ${times(ratio(cFloor, bwrap))}`);
  if (emptyBun !== null && cFloor !== null && harness !== null && bwrap !== null) {
    // Both floors include the harness's own spawn and wait once each.
    out.push(`  so no Bun program doing this sandbox's work can go below about ${times((emptyBun + cFloor - harness) / bwrap)} bwrap`);
  }

  const w = r.warm;
  out.push("", `Warm: ${w.n} sandboxes from one process (ms per sandbox); ${w.rounds} rounds of every phase, each figure its median round's`);
  out.push(
    table(
      ["figure", "median", "p90", "total/N", "vs one bwrap (total/N)"],
      [
        ["library API (runSandbox)", num(w.library.median_ms), num(w.library.p90_ms), num(w.library.mean_ms), times(ratio(w.library.mean_ms, w.bwrap.per_invocation_ms))],
        ["sandboxlib batch --jobs 1", "-", "-", num(w.batch.per_sandbox_ms), times(ratio(w.batch.per_sandbox_ms, w.bwrap.per_invocation_ms))],
        [`bwrap, ${w.n} invocations back to back`, num(w.bwrap.ms.median), num(w.bwrap.ms.p90), num(w.bwrap.per_invocation_ms), "1.00x"],
        ["C floor (bench/floor.c), same isolation", "-", "-", num(w.floor_ms), times(ratio(w.floor_ms, w.bwrap.per_invocation_ms))],
        [`sandboxlib batch --jobs ${w.concurrent.jobs}`, "-", "-", num(w.concurrent.batch.per_sandbox_ms), times(ratio(w.concurrent.batch.per_sandbox_ms, w.bwrap.per_invocation_ms))],
        [`bwrap, ${w.concurrent.jobs} at a time (xargs -P ${w.concurrent.jobs})`, "-", "-", num(w.concurrent.bwrap_per_invocation_ms), times(ratio(w.concurrent.bwrap_per_invocation_ms, w.bwrap.per_invocation_ms))],
        [`C floor, ${w.concurrent.jobs} side by side`, "-", "-", num(w.concurrent.floor_ms), times(ratio(w.concurrent.floor_ms, w.bwrap.per_invocation_ms))],
      ],
    ),
  );
  const jobsRatio = ratio(w.concurrent.batch.per_sandbox_ms, w.concurrent.bwrap_per_invocation_ms);
  out.push(`  ${w.concurrent.jobs} at a time: batch is ${times(jobsRatio)} bwrap run ${w.concurrent.jobs} at a time, and ${times(ratio(w.concurrent.batch.per_sandbox_ms, w.concurrent.floor_ms))} the C floors side by side`);
  out.push(`  library: first sandbox ${num(w.library.first_ms)} ms (compiles the C helper); total/N is the mean over all ${w.n}`);
  const rounds = (values: readonly (number | null)[]) => values.map((v) => num(v)).join(", ");
  out.push(`  rounds: batch --jobs ${w.concurrent.jobs} ${rounds(w.per_round.concurrent_batch_ms)}; one bwrap ${rounds(w.per_round.bwrap_ms)}`);
  if (w.batch.note) out.push(`  batch: ${w.batch.note}`);
  if (w.concurrent.batch.note) out.push(`  batch --jobs ${w.concurrent.jobs}: ${w.concurrent.batch.note}`);

  const c = r.capture;
  out.push("", `Capture: ${bytesLabel(c.bytes)} of command output, ${c.repetitions} repetitions; MB/s = 10^6 bytes of output per second at the median time`);
  const peerOf = new Map(CAPTURE_PEERS);
  out.push(
    table(
      ["variant", "median s", "MB/s", "vs peer"],
      c.figures.map((f) => {
        const peer = peerOf.get(f.key);
        return [f.label, f.ms ? num(f.ms.median / 1000) : "failed", num(f.mb_per_s, 0), peer ? `${times(ratio(f.mb_per_s, rate(c, peer)))} of ${captureFigure(c, peer)?.label}` : ""];
      }),
    ),
  );
  for (const f of c.figures) {
    if (f.sink_bytes !== null) out.push(`  ${f.label}: the sink received ${f.sink_bytes} bytes of JSON for ${c.bytes} bytes of output`);
    if (f.note) out.push(`  ${f.label}: ${f.note}`);
  }

  out.push("", `Peak RSS of the sandboxlib process (GNU time %M, KiB, ${r.memory.repetitions} runs each)`);
  out.push(table(["run", "median", "max"], r.memory.figures.map((f) => [f.label, num(f.kib.median, 0), num(f.kib.max, 0)])));

  out.push("", "Targets");
  out.push(
    table(
      ["target", "measured", "limit", "result"],
      r.targets.map((t) => [t.name, t.measured === null ? "n/a" : `${num(t.measured, t.unit === "KiB" ? 0 : 2)}${t.unit === "x" ? "x" : ` ${t.unit}`}`, `${t.op} ${t.limit}${t.unit === "x" ? "x" : ` ${t.unit}`}`, t.result === "pass" ? "pass" : t.result === "miss" ? "MISS" : t.result === "failed" ? "MISS (failed)" : "not measured"]),
    ),
  );
  if (r.notes.length) out.push("", "Notes", ...r.notes.map((n) => `- ${n}`));
  return out.join("\n");
}

/** Writes through a temporary file so that an interrupted run never leaves half a JSON file. */
export function writeResults(path: string, r: Results): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = track(`${path}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(r, null, 2)}\n`);
  renameSync(tmp, path);
}
