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

/** Wake-ups of all of `proc`'s threads in the 2 s after `settleMs`, once it has exited 0. */
async function wakeUpsWhileIdle(proc: ReturnType<typeof Bun.spawn>, settleMs: number): Promise<number> {
  await Bun.sleep(settleMs);
  const before = allThreads(proc.pid);
  await Bun.sleep(2000);
  const after = allThreads(proc.pid);
  expect(await proc.exited).toBe(0);
  return wokenSince(before, after);
}

/** A SIGTERM sent to `run` (started with `prefix` before it) 1.5 s in reaches its command, which traps it. */
async function expectTermForwarded(prefix: string[]): Promise<void> {
  const proc = Bun.spawn([...prefix, BIN, "run", "--", "sh", "-c", 'trap "echo got TERM; exit 3" TERM; while :; do sleep 0.1; done'], { stdout: "pipe", stderr: "inherit" });
  await Bun.sleep(1500);
  proc.kill("SIGTERM");
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect([out, code]).toEqual(["got TERM\n", 3]);
}

describe.skipIf(!isRoot)("idle supervisor", () => {
  test("while the command sleeps, no thread of `run` wakes (its JavaScript thread sleeps in the kernel, not in Bun's loop)", async () => {
    requireBinary();
    const proc = Bun.spawn([BIN, "run", "--", "sleep", "4"], { stdout: "ignore", stderr: "inherit" });
    // Past the start-up, and the half-second in Bun's loop (idle.ts).
    // 0 here; in Bun's loop its garbage-collection timer woke the process
    // 10 to 27 times in this window (three threads at each tick), and the
    // 100 ms poll before that some 30 times more.
    expect(await wakeUpsWhileIdle(proc, 1500)).toBeLessThanOrEqual(4);
  }, 20_000);

  test("`run` still answers at once while it sleeps: a signal is forwarded, a timeout fires", async () => {
    requireBinary();
    await expectTermForwarded([]);
    // A sleep that missed either would last until the reaper's safety net, a
    // minute: past this test's own limit of 30 s, and the command's 60 s.
    const timed = Bun.spawn([BIN, "run", "--timeout", "1", "--", "sleep", "60"], { stdout: "ignore", stderr: "ignore" });
    expect(await timed.exited).toBe(124);
  }, 30_000);

  test("a caller that starts `run` with SIGCHLD and SIGTERM blocked: the command's end and a SIGTERM still reach it", async () => {
    requireBinary();
    // Programs that use signalfd start their children so; Bun opens the mask
    // only while it waits itself, and so must the sleep (it waited for the
    // reaper's minute, and never forwarded the SIGTERM).
    const blocked = ["python3", "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGTERM}); os.execv(sys.argv[1], sys.argv[1:])"];
    const ended = Bun.spawn([...blocked, BIN, "run", "--", "sleep", "1.5"], { stdout: "ignore", stderr: "inherit" });
    expect(await ended.exited).toBe(0);
    await expectTermForwarded(blocked);
  }, 30_000);

  test("an epoll descriptor a caller left open, with an event ready, is not mistaken for Bun's: no busy loop", async () => {
    requireBinary();
    const leaky = [
      "python3", "-c",
      "import os, select, sys; e = select.epoll(); r, w = os.pipe(); os.write(w, b'x'); e.register(r, select.EPOLLIN); os.set_inheritable(e.fileno(), True); os.set_inheritable(r, True); os.execv(sys.argv[1], sys.argv[1:])",
    ];
    const proc = Bun.spawn([...leaky, BIN, "run", "--", "sleep", "3"], { stdout: "ignore", stderr: "inherit" });
    expect(await proc.exited).toBe(0);
    // CPU, not wall time: polling that epoll spun for some 2.5 s of the 3.
    const cpu = proc.resourceUsage()!.cpuTime;
    expect(Number(cpu.user + cpu.system) / 1e6).toBeLessThan(1);
  }, 30_000);

  test("while a batch's command sleeps, no thread of sandboxlib wakes (Bun's GC timer is off in a batch)", async () => {
    requireBinary();
    const line = JSON.stringify({ command: ["sleep", "6"] });
    const proc = Bun.spawn([BIN, "batch"], { stdin: Buffer.from(`${line}\n`), stdout: "ignore", stderr: "inherit" });
    // Past the start-up and the collection that follows it (some 2.3 s in).
    // 0 here, loaded or not; with the timer some 19 (the JavaScript thread,
    // a collector thread and mimalloc's scavenger, at every tick).
    expect(await wakeUpsWhileIdle(proc, 3000)).toBeLessThanOrEqual(4);
  }, 20_000);
});
