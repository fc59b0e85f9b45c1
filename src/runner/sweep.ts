// What a runner that was SIGKILLed leaves: its sandboxes die with it (their
// init goes when its parent does), their mounts with their namespaces, but
// the cgroups made for them stay, empty, named `<pid>-<n>` after the dead
// runner. A runner starting sweeps those of processes that no longer exist.
// (Mount points the sandboxes made in an input root stay in that root, which
// bb_worker removes with the action's directory.)
import { existsSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { CGROUP_ROOT } from "../supervise/cgroups.ts";

/** The sandboxlib group directories: /sys/fs/cgroup/sandboxlib (v2) and /sys/fs/cgroup/CONTROLLER/sandboxlib (v1). */
function groupDirs(root: string): string[] {
  const dirs = [join(root, "sandboxlib")];
  try {
    for (const e of readdirSync(root, { withFileTypes: true })) if (e.isDirectory()) dirs.push(join(root, e.name, "sandboxlib"));
  } catch {}
  return dirs.filter((d) => existsSync(d));
}

/** Whether a cgroup name is one of a process that is gone. Pure but for `alive`. */
export function isStale(name: string, alive: (pid: number) => boolean): boolean {
  const m = /^(\d+)-\d+$/.exec(name);
  return m !== null && !alive(Number(m[1]));
}

/** Removes the empty cgroups of dead sandboxlib processes; returns how many. Never throws. */
export function sweepStaleCgroups(root = CGROUP_ROOT, alive = (pid: number) => existsSync(`/proc/${pid}`)): number {
  let removed = 0;
  for (const dir of groupDirs(root)) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {}
    for (const name of names) {
      if (!isStale(name, alive)) continue;
      try {
        rmdirSync(join(dir, name));
        removed++;
      } catch {}
    }
  }
  return removed;
}
