// Waits for child processes without blocking the event loop: SIGCHLD wakes
// a non-blocking wait4 for each pending pid; a slow interval keeps the event
// loop alive while anything is pending and catches a signal that raced the
// registration.
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
  timer ??= setInterval(poll, 100);
  poll();
  return done;
}

/** Decodes a wait status: exit code, or the terminating signal. */
export function decodeStatus(status: number): { code: number | null; signal: number | null } {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: sig };
}
