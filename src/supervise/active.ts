// The sandboxes this process is setting up or running, so that a signal
// sandboxlib receives can be forwarded to them, including to one whose
// set-up (on a spawner thread) was still going on when the signal came.
import { kill } from "../native/libc.ts";

const running = new Set<number>();
/** For each sandbox being set up: the signals sent meanwhile. */
const starting = new Set<number[]>();

export interface StartingSandbox {
  /** It runs: signals go to `target` from now on (those sent meanwhile, at once). Returns the untrack function. */
  started(target: number): () => void;
  /** It never ran. */
  abandoned(): void;
}

/** Tracks a sandbox from the start of its set-up. */
export function trackStart(): StartingSandbox {
  const missed: number[] = [];
  starting.add(missed);
  return {
    started(target) {
      starting.delete(missed);
      running.add(target);
      for (const signal of missed) kill(target, signal);
      return () => running.delete(target);
    },
    abandoned: () => starting.delete(missed),
  };
}

/** Whether any sandbox of this process is being set up or running. */
export function anyActive(): boolean {
  return running.size > 0 || starting.size > 0;
}

/** Sends `signal` to every running sandbox, and to each being set up once it runs; returns how many there were. */
export function signalAll(signal: number): number {
  for (const pid of running) kill(pid, signal);
  for (const missed of starting) missed.push(signal);
  return running.size + starting.size;
}
