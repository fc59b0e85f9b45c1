// Waiting for the machine to go quiet between benchmark phases. The kernel
// tears network namespaces down later, in a workqueue: without this, each
// phase would pay for the namespaces the previous phase left to clean up.
import { readFileSync } from "node:fs";

/** Idle and total jiffies over all CPUs, from /proc/stat. */
function cpuTimes(): { idle: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { idle, total: fields.reduce((a, b) => a + b, 0) };
}

/**
 * Resolves once the CPUs were at least 90% idle over a 200 ms window, or
 * after `maxMs`. Returns how long it waited.
 */
export async function settle(maxMs = 10_000): Promise<number> {
  const start = performance.now();
  let before = cpuTimes();
  while (performance.now() - start < maxMs) {
    await Bun.sleep(200);
    const now = cpuTimes();
    const total = now.total - before.total;
    if (total > 0 && (now.idle - before.idle) / total >= 0.9) break;
    before = now;
  }
  return performance.now() - start;
}
