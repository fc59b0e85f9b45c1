// While a `run` has nothing to do but wait for its command, its JavaScript
// thread sleeps in poll(2) on the runtime's event-loop descriptors instead
// of in the runtime's loop: Bun's garbage-collector timer wakes that loop
// (and two threads of its own with it) every second for the first
// half-minute of every quiet spell, and Bun reads the setting that turns it
// off (BUN_GC_TIMER_DISABLE) only at its start. Whatever the loop would
// wake for ends the sleep: a descriptor it watches, or a signal, delivered
// to this thread (the one that does not block signals) and so interrupting
// poll. The loop then runs once. Timers are the one thing poll cannot see:
// the sleep ends at sandboxlib's own next deadline (deadline.ts) and the
// reaper's safety net. Only for a process with nothing else to do: a
// library caller's program keeps its own loop. Only from half a second on:
// a short command ends before, and pays nothing (node:fs alone costs a
// millisecond to load).
import { helper } from "../native/helper.ts";
import { nodeFs } from "../native/node-fs.ts";
import { msUntilNextDeadline } from "./deadline.ts";
import { REAPER_SAFETY_NET_MS } from "./reaper.ts";

/** How long a command runs before the thread goes to sleep in the kernel. */
const SLEEP_AFTER_MS = 500;

/** Ready returns in a row, each at once, after which the sleep gives up: a descriptor that stays ready is not one the runtime drains. */
const MOST_SPINS = 100;

let loopFds: Int32Array | null | undefined;

/**
 * The runtime's epoll descriptors, found once in /proc: those watching an
 * eventfd (Bun's wake-up), not one a caller left open to this process;
 * null where none can be named.
 */
function eventLoopFds(): Int32Array | null {
  if (loopFds !== undefined) return loopFds;
  const found: number[] = [];
  const fs = nodeFs();
  const kind = (fd: string) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return null; // closed meanwhile (the directory's own descriptor among them)
    }
  };
  try {
    for (const name of fs.readdirSync("/proc/self/fd")) {
      if (kind(name) !== "anon_inode:[eventpoll]") continue;
      const watched = [...fs.readFileSync(`/proc/self/fdinfo/${name}`, "utf8").matchAll(/^tfd:\s*(\d+)/gm)].map((m) => m[1]!);
      if (watched.some((fd) => kind(fd) === "anon_inode:[eventfd]")) found.push(Number(name));
    }
  } catch {
    // No /proc: the runtime's loop it is.
  }
  loopFds = found.length > 0 && found.length <= 8 ? new Int32Array(found) : null;
  return loopFds;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Sleeps in the kernel, turn by turn of the runtime's loop, from SLEEP_AFTER_MS on until `done` settles. */
export async function sleepUntil(done: Promise<unknown>): Promise<void> {
  let settled = false;
  const stillRunning = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(true), SLEEP_AFTER_MS);
    const end = () => {
      settled = true;
      clearTimeout(timer);
      resolve(false);
    };
    done.then(end, end);
  });
  const fds = stillRunning ? eventLoopFds() : null;
  if (!fds) return;
  const native = helper();
  // Out of the timer callback first: the runtime runs the timers that fell
  // due during a sleep begun inside its timer phase only a whole turn later.
  await nextTurn();
  let spins = 0;
  while (!settled && spins < MOST_SPINS) {
    const next = msUntilNextDeadline();
    // A millisecond past the due time: the runtime's timer must have expired when its loop runs.
    // The longest sleep is the reaper's safety net's period: it must still run.
    const timeout = next === null ? REAPER_SAFETY_NET_MS : Math.min(REAPER_SAFETY_NET_MS, Math.max(0, Math.ceil(next) + 1));
    const slept = performance.now();
    const ready = Number(native.sbx_idle(fds, fds.length, timeout));
    spins = ready > 0 && performance.now() - slept < 1 ? spins + 1 : 0;
    await nextTurn();
  }
}
