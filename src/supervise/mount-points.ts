// Mount points created in a root are shared by every sandbox running on it.
// Removing one that another sandbox mounted on would silently detach that
// sandbox's mount (rmdir detaches mounts in every namespace), and the
// sandbox that created one is not always the last to use it. So:
//  - every run holds a shared flock on the root directory while it runs;
//  - what it creates is appended to a journal kept for that root
//    (/run/sandboxlib/<dev>-<ino>.created);
//  - the run that can take the lock exclusively, the last one out, removes
//    everything in the journal, newest first, and the journal with it.
// Mount points left by a run that was killed are removed by the next last one.
import { close, exists, flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, O_RDONLY, open, stat, SysError } from "../native/libc.ts";
import { nodeFs } from "../native/node-fs.ts";
import type { Step } from "../plan/steps.ts";

const O_DIRECTORY = 0o200000;

export const STATE_DIR = process.env.SANDBOXLIB_STATE_DIR ?? "/run/sandboxlib";

type Removal = Extract<Step, { op: "rmdirs" }>;

export interface MountPointGuard {
  /** Records removals for what this run created (newest first). */
  record(removals: readonly Removal[]): void;
  /**
   * Ends the run: when no other run holds the root, hands every recorded
   * removal (newest first) to `remove`, still under the exclusive lock so
   * that no run can create a mount point meanwhile, and forgets them.
   */
  finish(remove: (removals: Removal[]) => void): void;
}

function journalPath(root: string): string {
  const st = stat(root);
  if (!st) throw new SysError("stat", 2 /* ENOENT */, root);
  return `${STATE_DIR}/${st.dev}-${st.ino}.created`;
}

function parseJournal(text: string): Removal[] {
  const out: Removal[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const { path, count, file } = JSON.parse(line) as { path: unknown; count: unknown; file: unknown };
      if (typeof path === "string" && typeof count === "number" && typeof file === "boolean") out.push({ op: "rmdirs", path, count, file });
    } catch {
      // A line torn by a crash: skip it.
    }
  }
  return out;
}

/**
 * The guard for a run on `root`, or null when there is nothing to guard: the
 * run creates no mount point and no earlier run left any to remove.
 */
export function guardMountPoints(root: string, createsMountPoints: boolean): MountPointGuard | null {
  const journal = journalPath(root);
  if (!createsMountPoints && !exists(journal)) return null;
  const fd = open(root, O_RDONLY | O_DIRECTORY);
  flock(fd, LOCK_SH);
  let done = false;
  return {
    record(removals) {
      if (removals.length === 0) return;
      const { appendFileSync, mkdirSync } = nodeFs();
      mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
      // Oldest first in the file; each line is one small atomic append.
      const lines = [...removals].reverse().map((r) => `${JSON.stringify({ path: r.path, count: r.count, file: r.file })}\n`);
      appendFileSync(journal, lines.join(""), { mode: 0o600 });
    },
    finish(remove) {
      if (done) return;
      done = true;
      try {
        // This run is done with the root: it lets go first, so that of two
        // runs finishing together one always gets the lock below.
        flock(fd, LOCK_UN);
        // Most runs create nothing (their mount points exist in the root):
        // no journal, nothing to remove, no lock to take.
        if (!exists(journal) || !flock(fd, LOCK_EX | LOCK_NB)) return;
        const { readFileSync, rmSync } = nodeFs();
        let removals: Removal[] = [];
        try {
          removals = parseJournal(readFileSync(journal, "utf8")).reverse();
        } catch {
          // No journal: it was removed meanwhile.
        }
        if (removals.length) remove(removals);
        rmSync(journal, { force: true });
      } finally {
        close(fd);
      }
    },
  };
}
