// A cgroup per sandbox, for --memory, --pids and --cpus (and for measuring
// the sandbox's peak memory): cgroup v2 where the host has it with the
// controllers needed, v1 otherwise. Created before the spawn, joined by the
// command process itself before its exec (so that everything it starts is
// in it from its first instruction), emptied and removed afterwards.
//
// The memory limit is set only once the command has exec'd (limitAfterExec,
// called as soon as the spawn returns: the kernel clears sp->cmd_tid at the
// command's exec). Until its exec the command process shares sandboxlib's
// memory (it is cloned with CLONE_VM, to copy nothing of the Bun heap), and
// exec itself charges the new image to the command's cgroup while the old
// memory is still the command's: a limit reached then makes the OOM killer
// pick the command and kill every process sharing its memory, sandboxlib
// included. The alternatives weighed do not avoid it or cost more:
// CLONE_INTO_CGROUP (v2) with CLONE_VM puts the shared memory in the cgroup
// just the same; moving the command in from outside (sandboxlib, or the init
// once it has exec'd its own program) after the exec lets what it forks
// meanwhile stay out; having the command forked by that separate init would
// move the command's set-up steps into it. The cost here is a window, from
// the command's first instruction to the write (microseconds; more when
// sandboxlib's thread is busy, as in a large batch), in which the memory it
// uses is not yet limited. What it took by then still counts: a limit it is
// already above ends it as if the kernel had. v1 refuses such a write
// (EBUSY) and never OOM-kills for it. v2 would OOM-kill at once, and the
// kernel clears cmd_tid a moment before the exec switches the command to
// its new memory: so the usage is compared first, and it cannot grow in that
// moment (the command is inside exec); after it, a kill takes only the command.
//
// The pids limit stays set before: a full pids cgroup refuses a fork
// (EAGAIN) and kills nothing. The CPU quota waits for the exec too: a
// command throttled before it, while it may hold a lock of the memory it
// shares with sandboxlib, would stall sandboxlib.
import { SandboxError } from "../base/errors.ts";
import type { CgroupLimits } from "../config/types.ts";
import { type Host, realHost } from "./host.ts";

export const CGROUP_ROOT = "/sys/fs/cgroup";
const GROUP = "sandboxlib";

const join = (...parts: string[]) => parts.join("/");

export interface SandboxCgroup {
  version: 1 | 2;
  /** cgroup.procs files the command writes "0" into. */
  procsFiles: string[];
  /**
   * Sets the limits that wait for the command's exec (see above). "over"
   * when the sandbox already uses more memory than its limit: the caller
   * kills it and reports it killed for memory.
   */
  limitAfterExec(): "set" | "over";
  /** How many processes the kernel killed in it for lack of memory. */
  oomKills(): number;
  /** Peak memory use of the whole sandbox in KiB (page cache included), when the kernel reports it. */
  peakMemoryKb(): number | null;
  /** Sends SIGKILL to every process in it, once. */
  killAll(): void;
  /** Kills whatever is left in it, then removes it. */
  remove(): Promise<void>;
}

type Controller = "memory" | "pids" | "cpu";

/** The command-line options that set these limits: "--memory and --pids". */
export function limitOptions(limits: CgroupLimits): string {
  const names = (["memory", "pids", "cpus"] as const).filter((k) => limits[k] !== null).map((k) => `--${k}`);
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : (names[0] ?? "");
}

function limitControllers(limits: CgroupLimits): Controller[] {
  const wanted: Controller[] = [];
  if (limits.memory !== null) wanted.push("memory");
  if (limits.pids !== null) wanted.push("pids");
  if (limits.cpus !== null) wanted.push("cpu");
  return wanted;
}

function read(host: Host, path: string): string | null {
  try {
    return host.readText(path);
  } catch {
    return null;
  }
}

/** "oom_kill 3" in memory.events (v2) or memory.oom_control (v1). */
export function counter(text: string | null, name: string): number {
  const m = text && new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** A failed cgroup write or mkdir, kept apart from sandboxlib's own errors until it is worded. */
class CgroupFsError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
    readonly what: string,
    message: string,
  ) {
    super(message);
  }
}

function fsCall<T>(path: string, what: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    const err = e as { code?: string; message?: string };
    throw new CgroupFsError(path, err.code ?? "", what, err.message ?? String(e));
  }
}

const write = (host: Host, path: string, value: string, what: string) => fsCall(path, what, () => host.writeText(path, value));
const mkdir = (host: Host, path: string) => fsCall(path, "create a cgroup", () => host.mkdirs(path));

/**
 * The one-line refusal for limits that cannot be applied here: which
 * options, why, and what to do. Read-only cgroups are what a container gets
 * by default (Docker, Podman, `docker build`).
 */
export function cannotLimit(options: string, cause: string): SandboxError {
  return new SandboxError("setup", `cannot apply ${options}: ${cause}`);
}

export function unwritableCause(code: string, path: string, options: string): string | null {
  const remedy = `give the container writable cgroups (docker run --cgroupns=private, or --privileged), or drop ${options}`;
  if (code === "EROFS") return `cgroups are read-only at ${path} (as in a container by default): ${remedy}`;
  if (code === "EACCES" || code === "EPERM") return `cgroups at ${path} are not writable here (permission denied): ${remedy}`;
  return null;
}

/** Which cgroup version serves these controllers here, or why none does. */
export function cgroupSupport(controllers: readonly Controller[], host: Host = realHost): { version: 1 | 2 } | { error: string } {
  const v2 = read(host, join(CGROUP_ROOT, "cgroup.controllers"));
  if (v2 !== null) {
    const available = v2.trim().split(/\s+/);
    const missing = controllers.filter((c) => !available.includes(c));
    return missing.length ? { error: `cgroup v2 lacks the ${missing.join(", ")} controller` } : { version: 2 };
  }
  const missing = controllers.filter((c) => !host.exists(join(CGROUP_ROOT, c, "cgroup.procs")));
  return missing.length ? { error: `no cgroup hierarchy for ${missing.join(", ")} under ${CGROUP_ROOT}` } : { version: 1 };
}

let counterSeq = 0;

/**
 * Removes cgroups left by sandboxlib processes that no longer exist (killed
 * before they could clean up). A cgroup with processes in it stays.
 */
function sweepStale(host: Host, parent: string): void {
  let entries: string[];
  try {
    entries = host.list(parent);
  } catch {
    return;
  }
  for (const name of entries) {
    const owner = /^(\d+)-\d+$/.exec(name);
    if (!owner || Number(owner[1]) === host.pid || host.kill(Number(owner[1]), 0)) continue;
    try {
      host.rmdir(join(parent, name));
    } catch {
      // Not empty yet, or already gone.
    }
  }
}

function killMembers(host: Host, dirs: string[]): number {
  let found = 0;
  for (const dir of dirs) {
    for (const pid of (read(host, join(dir, "cgroup.procs")) ?? "").split("\n").filter(Boolean).map(Number)) {
      host.kill(pid, 9);
      found++;
    }
  }
  return found;
}

async function drainAndRemove(host: Host, dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 0; attempt < 200 && killMembers(host, [dir]) > 0; attempt++) await host.sleep(5);
    try {
      host.rmdir(dir);
    } catch {
      // Still busy or already gone: nothing more to do without blocking.
    }
  }
}

/** Removes directories made before a failure (they hold no process yet). */
function removeNow(host: Host, dirs: string[]): void {
  for (const dir of dirs.reverse()) {
    try {
      host.rmdir(dir);
    } catch {
      // Gone already.
    }
  }
}

const cpuQuota = (cpus: number) => String(Math.max(1000, Math.round(cpus * 100000)));

function createV2(host: Host, controllers: Controller[], limits: CgroupLimits, name: string, made: string[]): SandboxCgroup {
  const read_ = (path: string) => read(host, path);
  const write_ = (path: string, value: string, what: string) => write(host, path, value, what);
  const parent = join(CGROUP_ROOT, GROUP);
  const enable = controllers.map((c) => `+${c}`).join(" ");
  write_(join(CGROUP_ROOT, "cgroup.subtree_control"), enable, "enable cgroup controllers");
  mkdir(host, parent);
  sweepStale(host, parent);
  write_(join(parent, "cgroup.subtree_control"), enable, "enable cgroup controllers");
  const dir = join(parent, name);
  mkdir(host, dir);
  made.push(dir);
  if (limits.pids !== null) write_(join(dir, "pids.max"), String(limits.pids), "set the process limit");
  return {
    version: 2,
    procsFiles: [join(dir, "cgroup.procs")],
    limitAfterExec() {
      if (limits.memory !== null) {
        if (Number(read_(join(dir, "memory.current")) ?? 0) > limits.memory) return "over";
        if (host.exists(join(dir, "memory.swap.max"))) write_(join(dir, "memory.swap.max"), "0", "set the swap limit");
        write_(join(dir, "memory.max"), String(limits.memory), "set the memory limit");
      }
      if (limits.cpus !== null) write_(join(dir, "cpu.max"), `${cpuQuota(limits.cpus)} 100000`, "set the CPU limit");
      return "set";
    },
    oomKills: () => counter(read_(join(dir, "memory.events")), "oom_kill"),
    peakMemoryKb: () => {
      const peak = read_(join(dir, "memory.peak"));
      return peak === null ? null : Math.round(Number(peak) / 1024);
    },
    killAll: () => void killMembers(host, made),
    remove: () => drainAndRemove(host, made),
  };
}

function createV1(host: Host, controllers: Controller[], limits: CgroupLimits, name: string, made: string[]): SandboxCgroup {
  const read_ = (path: string) => read(host, path);
  const write_ = (path: string, value: string, what: string) => write(host, path, value, what);
  const dirs: Partial<Record<Controller, string>> = {};
  for (const c of controllers) {
    sweepStale(host, join(CGROUP_ROOT, c, GROUP));
    const dir = join(CGROUP_ROOT, c, GROUP, name);
    mkdir(host, dir);
    made.push(dir);
    dirs[c] = dir;
  }
  if (dirs.pids && limits.pids !== null) write_(join(dirs.pids, "pids.max"), String(limits.pids), "set the process limit");
  /** A limit the usage is already above: the kernel refuses it (EBUSY) after trying to reclaim. */
  const setMemory = (file: string, value: number): boolean => {
    try {
      write_(file, String(value), "set the memory limit");
      return true;
    } catch (e) {
      if (e instanceof CgroupFsError && e.code === "EBUSY") return false;
      throw e;
    }
  };
  return {
    version: 1,
    procsFiles: made.map((d) => join(d, "cgroup.procs")),
    limitAfterExec() {
      const mem = dirs.memory;
      if (mem && limits.memory !== null) {
        // memsw (memory and swap) may never be below the memory limit: that one first.
        if (!setMemory(join(mem, "memory.limit_in_bytes"), limits.memory)) return "over";
        const memsw = join(mem, "memory.memsw.limit_in_bytes");
        if (host.exists(memsw) && !setMemory(memsw, limits.memory)) return "over";
      }
      if (dirs.cpu && limits.cpus !== null) {
        write_(join(dirs.cpu, "cpu.cfs_period_us"), "100000", "set the CPU period");
        write_(join(dirs.cpu, "cpu.cfs_quota_us"), cpuQuota(limits.cpus), "set the CPU limit");
      }
      return "set";
    },
    oomKills: () => (dirs.memory ? counter(read_(join(dirs.memory, "memory.oom_control")), "oom_kill") : 0),
    peakMemoryKb: () => {
      const peak = dirs.memory ? read_(join(dirs.memory, "memory.max_usage_in_bytes")) : null;
      return peak === null ? null : Math.round(Number(peak) / 1024);
    },
    killAll: () => void killMembers(host, made),
    remove: () => drainAndRemove(host, made),
  };
}

/** A cgroup write that failed, worded for the person who ran sandboxlib. */
function cgroupError(host: Host, version: 1 | 2, e: CgroupFsError, limits: CgroupLimits): SandboxError {
  const options = limitOptions(limits);
  const cause = unwritableCause(e.code, hierarchyOf(host, version, e.path), options);
  if (cause) return cannotLimit(options, cause);
  return new SandboxError("setup", `cannot ${e.what}: ${e.path}: ${e.message}`);
}

/**
 * The mounted hierarchy a cgroup path is in: /sys/fs/cgroup/memory for
 * /sys/fs/cgroup/memory/sandboxlib/x (v1); /sys/fs/cgroup, the one hierarchy,
 * for any v2 path (its groups have a cgroup.procs too: that test would name
 * /sys/fs/cgroup/sandboxlib).
 */
function hierarchyOf(host: Host, version: 1 | 2, path: string): string {
  if (version === 2) return CGROUP_ROOT;
  const rest = path.slice(CGROUP_ROOT.length + 1).split("/");
  return host.exists(join(CGROUP_ROOT, rest[0] ?? "", "cgroup.procs")) ? join(CGROUP_ROOT, rest[0]!) : CGROUP_ROOT;
}

/**
 * The cgroup version and controllers for these limits (and measuring), or
 * null when no cgroup is to be made; refuses limits no version serves.
 */
function chooseCgroup(host: Host, limits: CgroupLimits, measure: boolean): { version: 1 | 2; controllers: Controller[] } | null {
  const required = limitControllers(limits);
  let support: { version: 1 | 2 } | { error: string } = { error: "nothing to do" };
  let controllers = required;
  if (required.length > 0) {
    support = cgroupSupport(required, host);
    if ("error" in support) throw cannotLimit(limitOptions(limits), `${support.error}: run where cgroups are mounted, or drop ${limitOptions(limits)}`);
  }
  // Measuring is best effort: never a reason to refuse a run.
  if (measure && !required.includes("memory")) {
    const withMemory = cgroupSupport([...required, "memory"], host);
    if (!("error" in withMemory)) [support, controllers] = [withMemory, [...required, "memory"]];
  }
  return "error" in support ? null : { version: support.version, controllers };
}

/**
 * The cgroup.procs files the next createCgroup would make for these limits,
 * without making anything (for --print-plan); refuses as createCgroup does.
 */
export function plannedProcsFiles(limits: CgroupLimits, measure: boolean, host: Host = realHost): string[] {
  const chosen = chooseCgroup(host, limits, measure);
  if (chosen === null) return [];
  const name = `${host.pid}-${counterSeq + 1}`;
  if (chosen.version === 2) return [join(CGROUP_ROOT, GROUP, name, "cgroup.procs")];
  return chosen.controllers.map((c) => join(CGROUP_ROOT, c, GROUP, name, "cgroup.procs"));
}

/**
 * Creates the sandbox's cgroup(s) with the limits that may be set before
 * the command runs (see above). With no limit, `measure` asks for a memory
 * cgroup to measure the sandbox's peak, where one can be made: null
 * otherwise, or when there is nothing to do.
 */
export function createCgroup(limits: CgroupLimits, measure: boolean, host: Host = realHost): SandboxCgroup | null {
  const chosen = chooseCgroup(host, limits, measure);
  if (chosen === null) return null;
  const { version, controllers } = chosen;
  const limited = limitControllers(limits).length > 0;
  const name = `${host.pid}-${++counterSeq}`;
  const made: string[] = [];
  try {
    const cgroup = version === 2 ? createV2(host, controllers, limits, name, made) : createV1(host, controllers, limits, name, made);
    const limitAfterExec = cgroup.limitAfterExec;
    cgroup.limitAfterExec = () => {
      try {
        return limitAfterExec();
      } catch (e) {
        throw e instanceof CgroupFsError ? cgroupError(host, version, e, limits) : e;
      }
    };
    return cgroup;
  } catch (e) {
    removeNow(host, made);
    if (!limited) return null;
    if (e instanceof CgroupFsError) throw cgroupError(host, version, e, limits);
    throw e;
  }
}

/**
 * Whether the command itself was killed for memory: it died of SIGKILL,
 * sent by sandboxlib because the sandbox was over its limit when the limit
 * was set, or by the kernel's OOM killer in its cgroup (not by sandboxlib's
 * timeout). A child killed for memory while the command exits on its own
 * does not count, nor a command that was done before the limit was set.
 */
export function killedForMemory(facts: { overLimit: boolean; oomKills: number; signal: number | null; killedByTimeout: boolean }): boolean {
  if (facts.signal !== 9) return false;
  return facts.overLimit || (facts.oomKills > 0 && !facts.killedByTimeout);
}
