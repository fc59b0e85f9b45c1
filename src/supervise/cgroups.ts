// A cgroup per sandbox, for --memory, --pids and --cpus (and for measuring
// peak memory): cgroup v2 where the host has it with the controllers needed,
// v1 otherwise. Created before the spawn, joined by the sandbox before its
// command starts, emptied and removed afterwards.
import { SandboxError } from "../config/errors.ts";
import type { CgroupLimits } from "../config/types.ts";
import { exists, kill } from "../native/libc.ts";
import { nodeFs } from "../native/node-fs.ts";

export const CGROUP_ROOT = "/sys/fs/cgroup";
const GROUP = "sandboxlib";

const join = (...parts: string[]) => parts.join("/");

export interface SandboxCgroup {
  version: 1 | 2;
  /** cgroup.procs files the sandbox writes "0" into. */
  procsFiles: string[];
  /** Whether the kernel killed something in it for lack of memory. */
  oomKilled(): boolean;
  /** Peak memory use in KiB, when the kernel reports it. */
  peakMemoryKb(): number | null;
  /** Sends SIGKILL to every process in it, once. */
  killAll(): void;
  /** Kills whatever is left in it, then removes it. */
  remove(): Promise<void>;
}

type Controller = "memory" | "pids" | "cpu";

function controllersWanted(limits: CgroupLimits, measure: boolean): Controller[] {
  const wanted: Controller[] = [];
  if (limits.memory !== null || measure) wanted.push("memory");
  if (limits.pids !== null) wanted.push("pids");
  if (limits.cpus !== null) wanted.push("cpu");
  return wanted;
}

function read(path: string): string | null {
  try {
    return nodeFs().readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** "oom_kill 3" in memory.events (v2) or memory.oom_control (v1). */
function counter(text: string | null, name: string): number {
  const m = text && new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

function write(path: string, value: string, what: string): void {
  try {
    nodeFs().writeFileSync(path, value);
  } catch (e) {
    throw new SandboxError("setup", `cannot set ${what}: ${path}: ${(e as Error).message}`);
  }
}

/** Which cgroup version serves these controllers here, or why none does. */
export function cgroupSupport(controllers: readonly Controller[]): { version: 1 | 2 } | { error: string } {
  const v2 = read(join(CGROUP_ROOT, "cgroup.controllers"));
  if (v2 !== null) {
    const available = v2.trim().split(/\s+/);
    const missing = controllers.filter((c) => !available.includes(c));
    return missing.length ? { error: `cgroup v2 lacks the ${missing.join(", ")} controller` } : { version: 2 };
  }
  const missing = controllers.filter((c) => !exists(join(CGROUP_ROOT, c, "cgroup.procs")));
  return missing.length ? { error: `no cgroup hierarchy for ${missing.join(", ")} under ${CGROUP_ROOT}` } : { version: 1 };
}

let counterSeq = 0;

/**
 * Removes cgroups left by sandboxlib processes that no longer exist (killed
 * before they could clean up). A cgroup with processes in it stays.
 */
function sweepStale(parent: string): void {
  let entries: string[];
  try {
    entries = nodeFs().readdirSync(parent);
  } catch {
    return;
  }
  for (const name of entries) {
    const owner = /^(\d+)-\d+$/.exec(name);
    if (!owner || Number(owner[1]) === process.pid || kill(Number(owner[1]), 0)) continue;
    try {
      nodeFs().rmdirSync(join(parent, name));
    } catch {
      // Not empty yet, or already gone.
    }
  }
}

function killMembers(dirs: string[]): number {
  let found = 0;
  for (const dir of dirs) {
    for (const pid of (read(join(dir, "cgroup.procs")) ?? "").split("\n").filter(Boolean).map(Number)) {
      kill(pid, 9);
      found++;
    }
  }
  return found;
}

async function drainAndRemove(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 0; attempt < 200 && killMembers([dir]) > 0; attempt++) await Bun.sleep(5);
    try {
      nodeFs().rmdirSync(dir);
    } catch {
      // Still busy or already gone: nothing more to do without blocking.
    }
  }
}

/** Creates the sandbox's cgroup(s) with the limits set. */
export function createCgroup(limits: CgroupLimits, measure: boolean): SandboxCgroup | null {
  const controllers = controllersWanted(limits, measure);
  if (controllers.length === 0) return null;
  const support = cgroupSupport(controllers);
  if ("error" in support) {
    if (limits.memory === null && limits.pids === null && limits.cpus === null) return null; // only measuring
    throw new SandboxError("setup", `cannot limit resources: ${support.error}`);
  }
  const name = `${process.pid}-${++counterSeq}`;
  const pidsMax = limits.pids === null ? null : String(limits.pids);
  const cpuQuota = limits.cpus === null ? null : String(Math.max(1000, Math.round(limits.cpus * 100000)));
  if (support.version === 2) {
    const parent = join(CGROUP_ROOT, GROUP);
    const enable = controllers.map((c) => `+${c}`).join(" ");
    write(join(CGROUP_ROOT, "cgroup.subtree_control"), enable, "cgroup controllers");
    nodeFs().mkdirSync(parent, { recursive: true });
    sweepStale(parent);
    write(join(parent, "cgroup.subtree_control"), enable, "cgroup controllers");
    const dir = join(parent, name);
    nodeFs().mkdirSync(dir);
    const made = [dir];
    try {
      if (limits.memory !== null) {
        write(join(dir, "memory.max"), String(limits.memory), "the memory limit");
        if (exists(join(dir, "memory.swap.max"))) write(join(dir, "memory.swap.max"), "0", "the swap limit");
      }
      if (pidsMax !== null) write(join(dir, "pids.max"), pidsMax, "the process limit");
      if (cpuQuota !== null) write(join(dir, "cpu.max"), `${cpuQuota} 100000`, "the CPU limit");
    } catch (e) {
      void drainAndRemove(made);
      throw e;
    }
    return {
      version: 2,
      procsFiles: [join(dir, "cgroup.procs")],
      oomKilled: () => counter(read(join(dir, "memory.events")), "oom_kill") > 0,
      peakMemoryKb: () => {
        const peak = read(join(dir, "memory.peak"));
        return peak === null ? null : Math.round(Number(peak) / 1024);
      },
      killAll: () => void killMembers(made),
      remove: () => drainAndRemove(made),
    };
  }
  const dirs: Partial<Record<Controller, string>> = {};
  const made: string[] = [];
  try {
    for (const c of controllers) {
      sweepStale(join(CGROUP_ROOT, c, GROUP));
      const dir = join(CGROUP_ROOT, c, GROUP, name);
      nodeFs().mkdirSync(dir, { recursive: true });
      made.push(dir);
      dirs[c] = dir;
    }
    const mem = dirs.memory;
    if (mem && limits.memory !== null) {
      write(join(mem, "memory.limit_in_bytes"), String(limits.memory), "the memory limit");
      if (exists(join(mem, "memory.memsw.limit_in_bytes"))) write(join(mem, "memory.memsw.limit_in_bytes"), String(limits.memory), "the swap limit");
    }
    if (dirs.pids && pidsMax !== null) write(join(dirs.pids, "pids.max"), pidsMax, "the process limit");
    if (dirs.cpu && cpuQuota !== null) {
      write(join(dirs.cpu, "cpu.cfs_period_us"), "100000", "the CPU period");
      write(join(dirs.cpu, "cpu.cfs_quota_us"), cpuQuota, "the CPU limit");
    }
  } catch (e) {
    void drainAndRemove(made);
    throw e;
  }
  return {
    version: 1,
    procsFiles: made.map((d) => join(d, "cgroup.procs")),
    oomKilled: () => (dirs.memory ? counter(read(join(dirs.memory, "memory.oom_control")), "oom_kill") > 0 : false),
    peakMemoryKb: () => {
      const peak = dirs.memory ? read(join(dirs.memory, "memory.max_usage_in_bytes")) : null;
      return peak === null ? null : Math.round(Number(peak) / 1024);
    },
    killAll: () => void killMembers(made),
    remove: () => drainAndRemove(made),
  };
}
