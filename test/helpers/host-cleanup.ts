// Host-side clean-up for tests that attack sandboxlib: when an attack works
// (a sandbox leaks a mount, a process or a cgroup) the test fails, and these
// put the host back so that the leak cannot do harm afterwards (a leaked
// read-write bind inside a root that is then removed would take the bound
// host directory with it).
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Decodes the octal escapes (\040 ...) of a mountinfo field. */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points in this process's mount table that are `path` or under it. */
export function mountPointsUnder(path: string, mountinfo = readFileSync("/proc/self/mountinfo", "utf8")): string[] {
  const prefix = path.endsWith("/") ? path : `${path}/`;
  return mountinfo
    .split("\n")
    .filter(Boolean)
    .map((line) => unescapeMountField(line.split(" ")[4] ?? ""))
    .filter((target) => target === path || target.startsWith(prefix));
}

/** Lazily unmounts everything mounted under `path`, deepest first. */
export function unmountAllUnder(path: string): void {
  for (let round = 0; round < 10; round++) {
    const targets = mountPointsUnder(path).sort((a, b) => b.length - a.length);
    if (targets.length === 0) return;
    for (const target of targets) Bun.spawnSync(["umount", "-l", target], { stderr: "ignore" });
  }
}

/** Removes a test directory, but only once nothing is mounted under it. */
export function removeTestTree(path: string): void {
  if (!path || !existsSync(path)) return;
  unmountAllUnder(path);
  const left = mountPointsUnder(path);
  if (left.length) throw new Error(`not removing ${path}: still mounted there: ${left.join(", ")}`);
  rmSync(path, { recursive: true, force: true });
}

/** Pids of processes whose command line or environment contains `marker`. */
export function processesMarked(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1");
      if (cmdline === "") continue; // a zombie or a kernel thread
      if (cmdline.includes(marker) || readFileSync(`/proc/${entry}/environ`, "latin1").includes(marker)) found.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/** SIGKILLs every process carrying `marker`. */
export function killMarked(marker: string): void {
  for (const pid of processesMarked(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Directories under which sandboxlib makes its cgroups (v1 controllers and v2). */
export function sandboxlibCgroupParents(): string[] {
  const base = "/sys/fs/cgroup";
  const parents = [join(base, "sandboxlib")];
  try {
    for (const c of readdirSync(base)) parents.push(join(base, c, "sandboxlib"));
  } catch {
    // No cgroup filesystem.
  }
  return parents.filter((p) => existsSync(p));
}

/** Every cgroup sandboxlib has made (full paths). */
export function sandboxlibCgroups(): string[] {
  return sandboxlibCgroupParents().flatMap((parent) => {
    try {
      return readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(parent, e.name));
    } catch {
      return [];
    }
  });
}

/** Kills what is in the given cgroups and removes them (best effort). */
export function removeCgroups(dirs: string[]): void {
  for (const dir of dirs) {
    try {
      for (const pid of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) process.kill(Number(pid), "SIGKILL");
    } catch {
      // Gone, or nothing in it.
    }
  }
  for (const dir of dirs) {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") break;
        Bun.sleepSync(10);
      }
    }
  }
}

/**
 * Polls `check` until it holds or `ms` have passed; returns whether it held.
 * For things another process does (a kill, an unmount) after a run returns;
 * the caller asserts on the state, not on the time.
 */
export async function settles(check: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > until) return false;
    await Bun.sleep(20);
  }
}
