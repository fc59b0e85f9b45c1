// A timer for a deadline of any length. setTimeout takes at most 2^31-1 ms
// (about 24.8 days); a longer delay fires after 1 ms with a
// TimeoutOverflowWarning. A long deadline is waited for a piece at a time,
// each piece re-armed from the monotonic clock, so it never fires early.

/**
 * The longest deadline accepted from users: 2^31 days (about 5.9 million
 * years), where milliseconds still fit a double exactly enough. Beyond it a
 * value is a mistake, not a deadline.
 */
export const MAX_DEADLINE_SECONDS = 2 ** 31 * 86400;

/** The longest delay setTimeout honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long the next piece of a wait for `remainingMs` is. Pure. */
export function nextPieceMs(remainingMs: number): number {
  return Math.min(Math.max(remainingMs, 0), MAX_TIMER_MS);
}

export interface Deadline {
  cancel(): void;
}

/** The clock and timer a deadline uses: the real ones, or a test's. */
export interface TimerApi {
  now(): number;
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const REAL_TIMERS: TimerApi = {
  now: () => performance.now(),
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** When the pending deadlines on the real timers are due (performance.now()), for idle.ts. */
const pendingDue = new Set<{ due: number }>();

/** Milliseconds until the next deadline on the real timers is due, or null when none is pending. */
export function msUntilNextDeadline(): number | null {
  let next: number | null = null;
  for (const { due } of pendingDue) if (next === null || due < next) next = due;
  return next === null ? null : next - performance.now();
}

/** Calls `fire` once `seconds` have passed (any finite length), unless cancelled first. */
export function startDeadline(seconds: number, fire: () => void, timers: TimerApi = REAL_TIMERS): Deadline {
  const due = timers.now() + seconds * 1000;
  const entry = { due };
  if (timers === REAL_TIMERS) pendingDue.add(entry);
  let handle: unknown = null;
  const arm = () => {
    const remaining = due - timers.now();
    if (remaining <= 0) {
      handle = null;
      pendingDue.delete(entry);
      fire();
      return;
    }
    handle = timers.set(arm, nextPieceMs(remaining));
  };
  arm();
  return {
    cancel() {
      if (handle !== null) timers.clear(handle);
      handle = null;
      pendingDue.delete(entry);
    },
  };
}
