// Everything temporary the benchmark creates is registered here, so that it
// is removed at the end whatever happens: normal end, a thrown error, or
// Ctrl-C / SIGTERM while a measurement is running.
import { rmSync } from "node:fs";

const paths = new Set<string>();
let installed = false;

function removeAll(): void {
  for (const path of paths) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (e) {
      console.error(`bench: could not remove ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  paths.clear();
}

/** Registers a temporary file or directory for removal; returns it. */
export function track(path: string): string {
  if (!installed) {
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
  paths.add(path);
  return path;
}

/** Removes everything still tracked. */
export function cleanupAll(): void {
  removeAll();
}
