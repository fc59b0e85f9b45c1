// Waits for child processes without blocking the event loop: SIGCHLD wakes
// a non-blocking wait4 for each pending pid. Nothing else wakes the
// supervisor while a command runs (a build host runs many): a pid registered
// is polled once at once, after the listener is in place, so an exit that
// raced the registration is seen; a long interval keeps the event loop alive
// while anything is pending and is only a safety net (a minute).
import { tryWait } from "../native/spawn.ts";

export interface ExitInfo {
  status: number;
  userUs: number;
  sysUs: number;
  maxRssKb: number;
}

const pending = new Map<number, (info: ExitInfo) => void>();
let timer: ReturnType<typeof setInterval> | null = null;
let listening = false;

/** The safety net's period: SIGCHLD, not this, is what reaps a child on time. */
export const REAPER_SAFETY_NET_MS = 60_000;

function poll(): void {
  for (const [pid, resolve] of pending) {
    const info = tryWait(pid);
    if (info) {
      pending.delete(pid);
      resolve(info);
    }
  }
  if (pending.size === 0 && timer) {
    clearInterval(timer);
    timer = null;
  }
}

/** Resolves when `pid` (a child of this process) has exited, and reaps it. */
export function waitForExit(pid: number): Promise<ExitInfo> {
  if (!listening) {
    process.on("SIGCHLD", poll);
    listening = true;
  }
  const done = new Promise<ExitInfo>((resolve) => pending.set(pid, resolve));
  timer ??= setInterval(poll, REAPER_SAFETY_NET_MS);
  poll();
  return done;
}

/** Decodes a wait status: exit code, or the terminating signal. */
export function decodeStatus(status: number): { code: number | null; signal: number | null } {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: sig };
}
