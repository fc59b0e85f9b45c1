// What sandboxlib runs may leave behind on the host, counted against a
// baseline taken before them: mounts under the watched directories,
// processes carrying a marker, cgroups made by those runs, paths that
// appeared in the roots (created mount points), and temporary directories.
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { alive, mountPointsUnder, processesMarked, sandboxlibCgroups } from "./host-cleanup.ts";

export interface Leftovers {
  mounts: string[];
  processes: string[];
  cgroups: string[];
  createdPaths: string[];
  tempDirs: string[];
}

export interface Watch {
  /** Root filesystems the runs use: new paths in them are leftovers. */
  roots: string[];
  /** Directories under which no mount may remain. */
  mountDirs: string[];
  /** Carried by every process of the runs (in argv or environment). */
  marker: string;
  /** Directories where sandboxlib makes its temporary directories. */
  tempParents: string[];
  /** Pids of the sandboxlib processes started (owners of their cgroups). */
  ownerPids: Set<number>;
  baseline: { trees: Map<string, Set<string>>; cgroups: Set<string>; temp: Set<string> };
}

/** Every path under `root`, relative, not following symlinks nor entering mounts or other filesystems. */
export function treeOf(root: string): Set<string> {
  const paths = new Set<string>();
  const dev = lstatSync(root).dev;
  const mounts = new Set(mountPointsUnder(root));
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(root, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      paths.add(path);
      try {
        const st = lstatSync(join(root, path));
        if (st.isDirectory() && st.dev === dev && !mounts.has(join(root, path))) walk(path);
      } catch {
        // Gone meanwhile.
      }
    }
  };
  walk("");
  return paths;
}

const tempEntries = (parents: string[]) =>
  parents.flatMap((p) => (existsSync(p) ? readdirSync(p).filter((n) => n.startsWith(".sandboxlib-")).map((n) => join(p, n)) : []));

export function startWatch(w: Omit<Watch, "baseline" | "ownerPids">): Watch {
  return {
    ...w,
    ownerPids: new Set(),
    baseline: {
      trees: new Map(w.roots.map((r) => [r, treeOf(r)])),
      cgroups: new Set(sandboxlibCgroups()),
      temp: new Set(tempEntries(w.tempParents)),
    },
  };
}

/** The cgroup's owner, for sandboxlib's `<pid>-<n>` names; null for another naming. */
function cgroupOwner(dir: string): number | null {
  const m = /^(\d+)-/.exec(dir.split("/").at(-1) ?? "");
  return m ? Number(m[1]) : null;
}

export function leftovers(w: Watch): Leftovers {
  const mounts = w.mountDirs.flatMap((d) => mountPointsUnder(d));
  const processes = processesMarked(w.marker).map((pid) => {
    try {
      return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()}`;
    } catch {
      return String(pid);
    }
  });
  // A new cgroup counts when its owner is one of these runs' sandboxlib
  // processes and is gone (another live run's cgroup, or another test's, is not ours).
  const cgroups = sandboxlibCgroups().filter((dir) => {
    if (w.baseline.cgroups.has(dir)) return false;
    const owner = cgroupOwner(dir);
    return owner === null ? true : w.ownerPids.has(owner) && !alive(owner);
  });
  const createdPaths = w.roots.flatMap((root) => {
    const before = w.baseline.trees.get(root)!;
    return [...treeOf(root)].filter((p) => !before.has(p)).map((p) => join(root, p));
  });
  const tempDirs = tempEntries(w.tempParents).filter((p) => !w.baseline.temp.has(p));
  return { mounts, processes, cgroups, createdPaths, tempDirs };
}

export const isClean = (l: Leftovers) => Object.values(l).every((list) => list.length === 0);

export function describeLeftovers(l: Leftovers): string {
  return (Object.entries(l) as [string, string[]][])
    .filter(([, list]) => list.length)
    .map(([kind, list]) => `${kind} (${list.length}): ${list.slice(0, 10).join(", ")}${list.length > 10 ? ", ..." : ""}`)
    .join("\n");
}
