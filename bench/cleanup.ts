// Everything temporary the benchmark creates is registered here, so that it
// is removed at the end whatever happens: normal end, a thrown error, or
// Ctrl-C / SIGTERM while a measurement is running. Children still running
// then (the asynchronous ones: their timeouts die with this process) are
// killed first.
import { rmSync } from "node:fs";

const paths = new Set<string>();
const children = new Set<{ kill(signal?: number): void }>();
let installed = false;

function removeAll(): void {
  for (const child of children) child.kill(9);
  children.clear();
  for (const path of paths) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (e) {
      console.error(`bench: could not remove ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  paths.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  // "exit" handlers must be synchronous; rmSync is.
  process.on("exit", removeAll);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    process.on(signal, () => {
      console.error(`bench: ${signal}, cleaning up`);
      removeAll();
      process.exit(code);
    });
  }
}

/** Registers a temporary file or directory for removal; returns it. */
export function track(path: string): string {
  install();
  paths.add(path);
  return path;
}

/** Registers a running child to kill if the benchmark is stopped; call the result once it has exited. */
export function trackChild(child: { kill(signal?: number): void }): () => void {
  install();
  children.add(child);
  return () => void children.delete(child);
}

/**
 * Lets pending signal handlers run. Bun delivers signals through its event
 * loop, which a loop of spawnSync calls (or of already-settled promises)
 * never turns.
 */
export const yieldToSignals = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Removes everything still tracked. */
export function cleanupAll(): void {
  removeAll();
}
