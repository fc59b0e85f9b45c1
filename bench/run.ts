// The benchmark: `npm run bench` (bun bench/run.ts), as root. Not a test: it
// measures and reports, and fails only when it cannot measure.
//   BENCH_ROUNDS, BENCH_WARM_N, BENCH_CAPTURE_BYTES, BENCH_REPETITIONS
// override the sizes (for a quick try; the defaults are the reported ones).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCapture } from "./capture.ts";
import { cleanupAll, track } from "./cleanup.ts";
import { coldVariants, runCold } from "./cold.ts";
import { machineInfo } from "./machine.ts";
import { runMemory } from "./memory.ts";
import { compare, formatResults, type Results, writeResults } from "./report.ts";
import { makeRootfs } from "./rootfs.ts";
import { BIN, buildReferences, ensureBuilt, ensurePackages, REPO, requireRoot } from "./setup.ts";
import { runWarm } from "./warm.ts";

function sizeFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  return value;
}

const ROUNDS = sizeFromEnv("BENCH_ROUNDS", 200);
const WARMUP_ROUNDS = 10;
const WARM_N = sizeFromEnv("BENCH_WARM_N", 500);
const CAPTURE_BYTES = sizeFromEnv("BENCH_CAPTURE_BYTES", 1024 ** 3);
const REPETITIONS = sizeFromEnv("BENCH_REPETITIONS", 3);
const RESULTS = join(import.meta.dir, "results/latest.json");

const started = performance.now();
const log = (line: string) => console.error(`bench [${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}`);

async function main(): Promise<void> {
  requireRoot();
  ensurePackages(log);
  const notes: string[] = [];
  const buildNote = ensureBuilt(log);
  if (buildNote) notes.push(buildNote);

  const root = makeRootfs();
  const work = track(mkdtempSync(join(tmpdir(), "sandboxlib-bench-work-")));
  log(`rootfs ${root}`);
  const references = await buildReferences(work);
  const machine = machineInfo(BIN, REPO);
  if (machine.load_average_1m > machine.nproc / 2) {
    notes.push(`The machine was busy when the benchmark started (1-minute load average ${machine.load_average_1m.toFixed(2)} on ${machine.nproc} CPUs): other work skews the figures.`);
  }

  const bin = references.sandboxlib;
  const variants = coldVariants(bin, root, references.emptyBun, references.floor);
  log(`cold: ${WARMUP_ROUNDS} warm-up + ${ROUNDS} rounds of ${variants.length} variants`);
  const cold = await runCold(variants, ROUNDS, WARMUP_ROUNDS, log);
  // Twice the CPUs: a sandbox spends part of its life waiting in the kernel
  // (namespace set-up, exit), so one per CPU leaves CPUs idle.
  const warm = await runWarm(bin, root, WARM_N, references.floor, 2 * machine.nproc, REPETITIONS, log);
  log(`capture: ${CAPTURE_BYTES} bytes x ${REPETITIONS}`);
  const capture = await runCapture(bin, root, work, CAPTURE_BYTES, REPETITIONS, log);
  log("memory: GNU time around sandboxlib run");
  const memory = await runMemory(bin, root, work, CAPTURE_BYTES, WARM_N, warm.concurrent.jobs, REPETITIONS);

  notes.push(
    "Cold times are wall times from spawn to reap, measured by this harness (Bun.spawnSync + performance.now()); the /bin/true row is the harness's own floor. hyperfine is not used: it cannot interleave variants.",
    "Warm batch and bwrap are compared per sandbox as total wall time / N; the library's total/N is its mean, first sandbox included.",
    "Warm, J at a time: batch --jobs J against the same N bwrap invocations run J at a time by xargs -P J (as make -j would run them), and J C floors side by side. The issue's target compares batch with one bwrap invocation; the same-concurrency bwrap row is the fair peer and is shown beside it.",
    "Two references are not peers but floors. The empty Bun executable (bench/empty.ts, compiled as dist/sandboxlib is) is Bun's start-up alone, under any cold sandboxlib run. The C floor (bench/floor.c) creates the warm variants' namespaces and mounts N times in a row and runs /bin/true, with nothing else: no sandboxlib run, warm or cold, can cost less per sandbox than it does.",
    "The --json capture escapes each NUL byte of output as \\u0000 (6 bytes), so its sink receives about 6x the output; its MB/s counts the command's output. The library (stdout: CAPTURE) is the in-process capture path and is measured too; its time excludes Bun's start-up, the pipelines' includes their start-up.",
    "The sandboxed command is busybox sh -c 'head -c ...': the cat pipelines use the same busybox head so that only the path of the bytes differs. GNU head | cat is shown as a reference for how much of the time is busybox head's.",
    "Peak RSS is GNU time's %M for the sandboxlib process; the kernel's figure for a waited-for process is the largest of it and its reaped descendants. The --json run holds the whole output until the command ends (the result carries it): its figure grows with the output and is not held to the 64 MiB supervision target.",
  );
  const { comparisons, targets } = compare(cold, warm, capture, memory);
  const results: Results = {
    machine,
    parameters: { cold_rounds: ROUNDS, cold_warmup_rounds: WARMUP_ROUNDS, warm_n: WARM_N, capture_bytes: CAPTURE_BYTES, capture_repetitions: REPETITIONS, memory_repetitions: REPETITIONS, warm_rounds: REPETITIONS },
    cold,
    warm,
    capture,
    memory,
    comparisons,
    targets,
    notes,
  };
  writeResults(RESULTS, results);
  console.log(formatResults(results));
  log(`wrote ${RESULTS}`);
}

try {
  await main();
} catch (e) {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  cleanupAll();
}
