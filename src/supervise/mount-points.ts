// Mount points created in a root are shared by every sandbox running on it.
// Removing one that another sandbox mounted on would silently detach that
// sandbox's mount (rmdir detaches mounts in every namespace), and the
// sandbox that created one is not always the last to use it. So:
//  - every run holds a shared flock on the root directory while it runs;
//  - before anything is created, it journals the mount points it may create
//    (the components of its mkdirs steps that do not exist yet, looked up in
//    the root as the steps will resolve them) in a journal kept for that root
//    (STATE_DIR/<dev>-<ino>.created); a journal it cannot write ends the run
//    before anything is created. Journalled after the fact, a mount point
//    created just before sandboxlib was SIGKILLed, or while the state
//    directory was full, would be left in the root for good;
//  - once its sandbox is set up, it narrows its record to what it did create;
//  - the run that can take the lock exclusively, the last one out, removes
//    everything in the journal, newest first, and the journal with it: what
//    runs created, and of what runs that died before narrowing meant to
//    create, whatever exists and is empty (deepest first).
//
// Journal lines, appended (JSON):
//   {"run":R,"path":P,"count":N,"file":B,"intent":true}  run R may create these
//   {"run":R,"path":P,"count":N,"file":B}                run R created these
//   {"run":R,"settled":true}                             R's intents are replaced by its created lines
// Lines without "run" (journals of earlier versions) count as created.
import { SandboxError } from "../base/errors.ts";
import { LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, strerror, SysError } from "../native/libc.ts";
import type { SandboxPlan } from "../plan/sandbox-plan.ts";
import type { Step } from "../plan/steps.ts";
import { type Host, realHost } from "./host.ts";
import type { Presence } from "./root-probe.ts";

export const STATE_DIR = process.env.SANDBOXLIB_STATE_DIR ?? "/run/sandboxlib";

type Removal = Extract<Step, { op: "rmdirs" }>;

export interface JournalEntry {
  run: string | null;
  removal: Removal;
  intent: boolean;
}

export interface MountPointGuard {
  /**
   * Journals the mount points `plan` may create, before any is: throws a
   * SandboxError naming the state directory when the journal cannot be
   * written.
   */
  intend(plan: SandboxPlan): void;
  /** Narrows this run's record to the removals for what it created (newest first). Best effort: the intents stand otherwise. */
  settle(removals: readonly Removal[]): void;
  /**
   * Ends the run: when no other run holds the root, hands every recorded
   * removal (newest first) to `remove`, still under the exclusive lock so
   * that no run can create a mount point meanwhile, and forgets them.
   */
  finish(remove: (removals: Removal[]) => void): void;
}

function journalPath(host: Host, stateDir: string, root: string): string {
  const st = host.stat(root);
  if (!st) throw new SysError("stat", 2 /* ENOENT */, root);
  return `${stateDir}/${st.dev}-${st.ino}.created`;
}

/** Counts, for each mkdirs step, the trailing components of its path missing now or not made by an earlier step (-1 for other steps). */
function missingComponents(steps: readonly Step[], presence: (path: string) => Presence, made: Set<string>): number[] {
  return steps.map((step) => {
    if (step.op !== "mkdirs") return -1;
    const parts = step.path.split("/");
    let firstMissing = -1;
    for (let i = 0; i < parts.length && firstMissing < 0; i++) {
      const prefix = parts.slice(0, i + 1).join("/");
      if (made.has(prefix)) continue;
      const found = presence(prefix);
      // Something in the way (a file, a loop): the step fails there and creates nothing.
      if (found === "unreachable") return 0;
      if (found === "missing") firstMissing = i;
    }
    if (firstMissing < 0) return 0;
    for (let i = firstMissing; i < parts.length; i++) made.add(parts.slice(0, i + 1).join("/"));
    return parts.length - firstMissing;
  });
}

/**
 * The removals for every mount point `plan` may create (newest first), as
 * if each of its mkdirs steps created all that is missing: the plan's own
 * cleanup, given the counts the steps would report.
 */
export function intendedCreations(plan: SandboxPlan, presence: (path: string) => Presence): Removal[] {
  const childOuts = missingComponents(plan.child, presence, new Set<string>());
  return plan.cleanup(childOuts).remove;
}

const line = (fields: Record<string, unknown>) => `${JSON.stringify(fields)}\n`;
const removalFields = (r: Removal) => ({ path: r.path, count: r.count, file: r.file });

/** Journal lines for `removals` (given newest first, written oldest first). */
export function journalLines(run: string, removals: readonly Removal[], intent: boolean): string {
  return [...removals].reverse().map((r) => line({ run, ...removalFields(r), ...(intent ? { intent: true } : {}) })).join("");
}

export const settledLine = (run: string) => line({ run, settled: true });

/** The entries of a journal, oldest first; lines torn by a crash are skipped. */
export function parseJournal(text: string): JournalEntry[] {
  const entries: JournalEntry[] = [];
  const settled = new Set<string>();
  for (const text_ of text.split("\n")) {
    if (!text_) continue;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(text_) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    const run = typeof v.run === "string" ? v.run : null;
    if (run !== null && v.settled === true) {
      settled.add(run);
      continue;
    }
    const { path, count, file } = v;
    if (typeof path !== "string" || typeof count !== "number" || typeof file !== "boolean") continue;
    entries.push({ run, removal: { op: "rmdirs", path, count, file }, intent: v.intent === true });
  }
  return entries.filter((e) => !(e.intent && e.run !== null && settled.has(e.run)));
}

/**
 * What to remove for a journal's entries, newest first. An intent's file
 * goes only when it is an empty regular file, as sandboxlib creates them
 * (rmdirs removes a file whatever it holds); its directories go only when
 * empty (rmdir).
 */
export function journalRemovals(entries: readonly JournalEntry[], isEmptyFile: (path: string) => boolean, presence: (path: string) => Presence): Removal[] {
  const kept = entries.filter((e) => !(e.intent && e.removal.file && presence(e.removal.path) === "present" && !isEmptyFile(e.removal.path)));
  // One path at a time, deepest first: runs that shared a root recorded
  // overlapping chains ("a/b/c" three deep by one, "a/d" by another), and a
  // parent goes only once every run's children are gone, whatever the order
  // of their records.
  const byPath = new Map<string, Removal>();
  for (const { removal } of kept.reverse()) {
    const parts = removal.path.split("/");
    for (let i = 0; i < removal.count && parts.length - i > 0; i++) {
      const path = parts.slice(0, parts.length - i).join("/");
      if (!byPath.has(path)) byPath.set(path, { op: "rmdirs", path, count: 1, file: i === 0 && removal.file });
    }
  }
  const depth = (path: string) => path.split("/").length;
  return [...byPath.values()].sort((a, b) => depth(b.path) - depth(a.path));
}

/** Why a state-directory write failed, in words. */
function reason(e: unknown): string {
  const err = e as { errno?: unknown; message?: unknown };
  if (typeof err.errno === "number" && err.errno !== 0) return strerror(Math.abs(err.errno));
  return String(err.message ?? e);
}

let runSeq = 0;
/** Unique among the runs that ever share a journal: pid, this process's start, a counter. */
const newRunId = (pid: number) => `${pid}-${Math.floor(performance.timeOrigin)}-${++runSeq}`;

/**
 * The guard for a run on `root`, or null when there is nothing to guard: the
 * run creates no mount point and no earlier run left any to remove.
 */
export function guardMountPoints(root: string, createsMountPoints: boolean, host: Host = realHost, stateDir: string = STATE_DIR): MountPointGuard | null {
  const journal = journalPath(host, stateDir, root);
  if (!createsMountPoints && !host.exists(journal)) return null;
  const fd = host.openDirectory(root);
  host.flock(fd, LOCK_SH);
  const run = newRunId(host.pid);
  let journalled = false;
  let done = false;
  const append = (text: string) => {
    host.mkdirs(stateDir, 0o700);
    // A leading newline keeps a line torn by an earlier failed append (a
    // full disk) from swallowing this one.
    host.appendText(journal, `\n${text}`, 0o600);
  };
  return {
    intend(plan) {
      const probe = host.probeRoot(fd);
      const removals = intendedCreations(plan, probe.presence);
      if (removals.length === 0) return;
      try {
        append(journalLines(run, removals, true));
      } catch (e) {
        throw new SandboxError("setup", `cannot record the mount points this run may create in the state directory ${stateDir}: ${reason(e)} (SANDBOXLIB_STATE_DIR chooses another)`);
      }
      journalled = true;
    },
    settle(removals) {
      if (!journalled && removals.length === 0) return;
      try {
        append(journalLines(run, removals, false) + settledLine(run));
      } catch {
        // The intents stand: a superset of what was created.
      }
    },
    finish(remove) {
      if (done) return;
      done = true;
      try {
        // This run is done with the root: it lets go first, so that of two
        // runs finishing together one always gets the lock below.
        host.flock(fd, LOCK_UN);
        // Most runs create nothing (their mount points exist in the root):
        // no journal, nothing to remove, no lock to take.
        if (!host.exists(journal) || !host.flock(fd, LOCK_EX | LOCK_NB)) return;
        let removals: Removal[] = [];
        try {
          const probe = host.probeRoot(fd);
          removals = journalRemovals(parseJournal(host.readText(journal)), probe.isEmptyFile, probe.presence);
        } catch {
          // No journal: it was removed meanwhile.
        }
        if (removals.length) remove(removals);
        host.remove(journal);
      } finally {
        host.close(fd);
      }
    },
  };
}
