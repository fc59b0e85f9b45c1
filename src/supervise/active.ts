// The sandboxes this process is running, so that a signal sandboxlib
// receives can be forwarded to them.
import { kill } from "../native/libc.ts";

const running = new Set<number>();

export function track(pid: number): () => void {
  running.add(pid);
  return () => running.delete(pid);
}

/** Sends `signal` to every running sandbox; returns how many there were. */
export function signalAll(signal: number): number {
  for (const pid of running) kill(pid, signal);
  return running.size;
}
