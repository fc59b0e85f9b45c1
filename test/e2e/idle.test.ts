// The supervisor sleeps while the command runs: a build host runs many
// sandboxes, and each one's polling would be paid for by all. Counted as
// voluntary context switches (wake-ups; preemption, which a loaded machine
// adds, is not counted) while the command sleeps.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { BIN, requireBinary } from "../helpers/cli.ts";
import { isRoot } from "../helpers/rootfs.ts";

function switches(statusPath: string): number {
  const status = readFileSync(statusPath, "utf8");
  return Number(/^voluntary_ctxt_switches:\s*(\d+)$/m.exec(status)?.[1] ?? Number.NaN);
}

/** The wake-ups of every thread of `pid` so far (a thread gone since is not counted). */
function allThreads(pid: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      counts.set(tid, switches(`/proc/${pid}/task/${tid}/status`));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return counts;
}

function wokenSince(before: Map<string, number>, after: Map<string, number>): number {
  let n = 0;
  for (const [tid, count] of after) n += count - (before.get(tid) ?? 0);
  return n;
}

describe.skipIf(!isRoot)("idle supervisor", () => {
  test("while the command sleeps, sandboxlib's main thread wakes at most about once a second (it woke every 100 ms)", async () => {
    requireBinary();
    const proc = Bun.spawn([BIN, "run", "--", "sleep", "3.5"], { stdout: "ignore", stderr: "inherit" });
    await Bun.sleep(800);
    const before = switches(`/proc/${proc.pid}/status`);
    await Bun.sleep(2000);
    const after = switches(`/proc/${proc.pid}/status`);
    expect(await proc.exited).toBe(0);
    // Bun's own garbage-collection timer ticks once a second for the first
    // half-minute, and `run` cannot turn it off without a second start-up
    // (src/cli/engine.ts): 2 to 7 here, with the collections it asks for;
    // the 100 ms poll gave some 30 in this window.
    expect(after - before).toBeLessThanOrEqual(10);
  }, 20_000);

  test("while a batch's command sleeps, no thread of sandboxlib wakes (Bun's GC timer is off in a batch)", async () => {
    requireBinary();
    const line = JSON.stringify({ command: ["sleep", "6"] });
    const proc = Bun.spawn([BIN, "batch"], { stdin: Buffer.from(`${line}\n`), stdout: "ignore", stderr: "inherit" });
    // Past the start-up and the collection that follows it (some 2.3 s in).
    await Bun.sleep(3000);
    const before = allThreads(proc.pid);
    await Bun.sleep(2000);
    const after = allThreads(proc.pid);
    expect(await proc.exited).toBe(0);
    // 0 here, loaded or not; with the timer some 19 (the JavaScript thread,
    // a collector thread and mimalloc's scavenger, at every tick).
    expect(wokenSince(before, after)).toBeLessThanOrEqual(4);
  }, 20_000);
});
