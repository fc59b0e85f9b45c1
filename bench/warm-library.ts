// N sandboxes from one process through the library API, one after the other:
// the cost of a sandbox once Bun is up and the C helper is compiled.
// Usage: bun bench/warm-library.ts ROOT N   (prints one JSON object)
import { getExecutor } from "../src/index.ts";
import { summarize } from "./stats.ts";

const [root, count] = [process.argv[2], Number(process.argv[3])];
if (!root || !Number.isInteger(count) || count < 1) {
  console.error("usage: bun bench/warm-library.ts ROOT N");
  process.exit(2);
}

const executor = getExecutor("linux");
const samples: number[] = [];
const start = performance.now();
for (let i = 0; i < count; i++) {
  const t = performance.now();
  const r = await executor.runSandbox(["/bin/true"], {
    filesystemRoot: root,
    network: "isolated",
    extraMounts: [[null, "/proc", "proc"]],
    filesystemWritablePaths: "none",
    stdout: null,
    stderr: null,
  });
  samples.push(performance.now() - t);
  if (r.exitCode !== 0) {
    console.error(`sandbox ${i} exited ${r.exitCode} (signal ${r.signal})`);
    process.exit(1);
  }
}
const totalMs = performance.now() - start;
const s = summarize(samples);
// The first sandbox also compiles the C helper (bun:ffi cc); reported apart.
console.log(JSON.stringify({ n: count, median_ms: s.median, mean_ms: s.mean, p90_ms: s.p90, first_ms: samples[0], total_ms: totalMs }));
