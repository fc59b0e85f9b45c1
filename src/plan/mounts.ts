// Steps that create the extra mounts inside the root; shared by backends.
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC } from "../config/mount-options.ts";
import type { PlannedMount } from "../config/plan-input.ts";
import { isWithin } from "../base/paths.ts";
import type { Step } from "./steps.ts";

import { MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY } from "../base/kernel-constants.ts";
export { MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY };

const S_IFCHR = 0o020000;
const makedev = (major: number, minor: number) => (major << 8) | minor;

/** Character devices of the minimal /dev: never a disk of the host. */
export const DEV_NODES: readonly { name: string; major: number; minor: number }[] = [
  { name: "null", major: 1, minor: 3 },
  { name: "zero", major: 1, minor: 5 },
  { name: "full", major: 1, minor: 7 },
  { name: "random", major: 1, minor: 8 },
  { name: "urandom", major: 1, minor: 9 },
  { name: "tty", major: 5, minor: 0 },
];

const DEV_LINKS: readonly [string, string][] = [
  ["fd", "/proc/self/fd"],
  ["stdin", "/proc/self/fd/0"],
  ["stdout", "/proc/self/fd/1"],
  ["stderr", "/proc/self/fd/2"],
  ["ptmx", "pts/ptmx"],
];

function fsMount(source: string, target: string, fstype: string, flags: number, data: string | null): Step {
  return { op: "mount", source, target, inRoot: true, sourceInRoot: false, fstype, flags, data };
}

/** A minimal /dev at `target`: tmpfs, a few safe device nodes, pts and shm. */
function devSteps(target: string): Step[] {
  const at = (name: string) => `${target}/${name}`;
  return [
    fsMount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1m"),
    ...DEV_NODES.map((d): Step => ({ op: "mknod", path: at(d.name), mode: S_IFCHR | 0o666, dev: makedev(d.major, d.minor) })),
    { op: "mkdirs", path: at("pts"), mode: 0o755, file: false },
    fsMount("devpts", at("pts"), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"),
    { op: "mkdirs", path: at("shm"), mode: 0o1777, file: false },
    fsMount("tmpfs", at("shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
    ...DEV_LINKS.map(([name, text]): Step => ({ op: "symlink", target: text, path: at(name) })),
  ];
}

/** mount_setattr attributes equivalent to a bind's mount flags. */
export function bindAttributes(flags: number): number {
  let attrs = 0;
  if (flags & MS_RDONLY) attrs |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID) attrs |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV) attrs |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC) attrs |= MOUNT_ATTR_NOEXEC;
  return attrs;
}

/**
 * Attributes a bind must lose: the options leave out nodev or nosuid only
 * when they said `dev` or `suid` (see DEFAULT_MOUNT_FLAGS), and a bind
 * copies its source mount's flags, which may have them (a source inside
 * the root, whose bind onto itself is nodev,nosuid).
 */
function bindClearedAttributes(flags: number): number {
  return (flags & MS_NODEV ? 0 : MOUNT_ATTR_NODEV) | (flags & MS_NOSUID ? 0 : MOUNT_ATTR_NOSUID);
}

// Kernel files that root in the sandbox must not reach: what runc and
// Docker mask and make read-only in every container (and bubblewrap for its
// --proc). Without a user namespace, /proc/sys writes the host's sysctls:
// kernel.core_pattern set to a program in the root runs it as host root.

/** Files of a proc mount hidden under /dev/null (they read empty). */
export const PROC_MASKED_FILES: readonly string[] = [
  "kcore", "keys", "timer_list", "timer_stats", "sched_debug", "latency_stats", "interrupts",
];
/** Directories of a proc mount hidden under an empty read-only tmpfs. */
export const PROC_MASKED_DIRS: readonly string[] = ["acpi", "asound", "scsi"];
/** Paths of a proc mount made read-only: sysctls, SysRq, IRQ affinity, bus and filesystem settings. */
export const PROC_READ_ONLY: readonly string[] = ["sys", "sysrq-trigger", "irq", "bus", "fs"];
/** Directories of a sysfs mount (itself read-only) hidden: firmware tables, power capping (RAPL). */
export const SYSFS_MASKED_DIRS: readonly string[] = ["firmware", "devices/virtual/powercap"];

/** Bound over masked files: reads give nothing, writes go nowhere. */
const NULL_DEVICE = "/dev/null";
const READ_ONLY_ATTRS = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;

/**
 * Steps that hide `path` (in the root), skipped where this kernel has no
 * such file. A file gets the host's /dev/null bound over it, read-only so
 * that nobody inside can chmod the host's node through it (not nodev: it
 * must stay a working null device); a directory an empty read-only tmpfs.
 */
function maskSteps(path: string, isDir: boolean): Step[] {
  if (isDir) {
    const flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    return [{ op: "mount", source: "tmpfs", target: path, inRoot: true, sourceInRoot: false, fstype: "tmpfs", flags, data: "mode=555", optional: true }];
  }
  return [
    { op: "mount", source: NULL_DEVICE, target: path, inRoot: true, sourceInRoot: false, fstype: null, flags: MS_BIND, data: null, optional: true },
    { op: "setattr", path, set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, clear: 0, recursive: false, optional: true },
  ];
}

/** `path` (in the root) bound onto itself and made read-only, submounts included; skipped where it does not exist. */
function readOnlySteps(path: string): Step[] {
  return [
    { op: "mount", source: path, target: path, inRoot: true, sourceInRoot: true, fstype: null, flags: MS_BIND | MS_REC, data: null, optional: true },
    { op: "setattr", path, set: READ_ONLY_ATTRS, clear: 0, recursive: true, optional: true },
  ];
}

/** What follows a proc or sysfs mount at `target`: the masks and read-only paths above. */
function kernelFsSteps(m: PlannedMount): Step[] {
  const at = (name: string) => `${m.target}/${name}`;
  if (m.fstype === "proc") {
    return [
      ...PROC_READ_ONLY.flatMap((name) => readOnlySteps(at(name))),
      ...PROC_MASKED_FILES.flatMap((name) => maskSteps(at(name), false)),
      ...PROC_MASKED_DIRS.flatMap((name) => maskSteps(at(name), true)),
    ];
  }
  if (m.fstype === "sysfs") return SYSFS_MASKED_DIRS.flatMap((name) => maskSteps(at(name), true));
  return [];
}

/**
 * Paths (in the root) that the proc and sysfs hardening leaves read-only:
 * a planner that clears the read-only flag below a writable path sets it
 * back on these.
 */
export function kernelFsReadOnlyPaths(mounts: readonly PlannedMount[]): string[] {
  const paths: string[] = [];
  for (const m of mounts) {
    const at = (name: string) => `${m.target}/${name}`;
    if (m.fstype === "proc") paths.push(...[...PROC_READ_ONLY, ...PROC_MASKED_FILES, ...PROC_MASKED_DIRS].map(at));
    if (m.fstype === "sysfs") paths.push(m.target, ...SYSFS_MASKED_DIRS.map(at));
  }
  return paths;
}

/**
 * Creates each mount point that is missing, then mounts. A bind ignores
 * per-mount flags, so its ro/nosuid/nodev/noexec are applied afterwards to
 * the whole bound tree, submounts included. Every mount is nodev and nosuid
 * unless its options said `dev` or `suid` (the flags carry that: see
 * DEFAULT_MOUNT_FLAGS), except sandboxlib's own /dev, whose nodes must work.
 * A sysfs mount is always read-only; proc and sysfs get their kernel files
 * masked and made read-only right after they are mounted.
 */
export function extraMountSteps(mounts: readonly PlannedMount[]): Step[] {
  const steps: Step[] = [];
  for (const m of mounts) {
    steps.push({ op: "mkdirs", path: m.target, mode: 0o755, file: m.sourceIsFile });
    if (m.fstype === "dev") {
      steps.push(...devSteps(m.target));
      continue;
    }
    if (m.remount) {
      // What the root shows there (an earlier mount included), bound onto itself and made read-only.
      steps.push({ op: "mount", source: m.target, target: m.target, inRoot: true, sourceInRoot: true, fstype: null, flags: MS_BIND | MS_REC, data: null });
      steps.push({ op: "setattr", path: m.target, set: bindAttributes(m.flags), clear: 0, recursive: true });
      continue;
    }
    if (m.bind) {
      steps.push({
        op: "mount",
        source: m.source,
        target: m.target,
        inRoot: true,
        sourceInRoot: false,
        fstype: null,
        flags: MS_BIND | MS_REC,
        data: null,
      });
      const set = bindAttributes(m.flags);
      const clear = bindClearedAttributes(m.flags);
      if (set || clear) steps.push({ op: "setattr", path: m.target, set, clear, recursive: true });
      continue;
    }
    const flags = m.fstype === "sysfs" ? m.flags | MS_RDONLY : m.flags;
    steps.push(fsMount(m.source ?? m.fstype ?? "none", m.target, m.fstype ?? "none", flags, m.data));
    steps.push(...kernelFsSteps(m));
  }
  return steps;
}

/**
 * Where a mkdirs step's out value (src/native/steps.c) holds, above the count of
 * components it created, the count of trailing ones it never reached: a
 * step that failed part-way ("a/b" made, "a/b/<name too long>/c" not).
 */
export const MKDIRS_UNREACHED_SHIFT = 16;

/** What a mkdirs step created, from its out value: the path up to its last created component, and how many components of it. */
export function mkdirsCreated(path: string, out: number): { path: string; count: number; whole: boolean } {
  if (!(out > 0)) return { path, count: 0, whole: true };
  const count = out & ((1 << MKDIRS_UNREACHED_SHIFT) - 1);
  const unreached = out >>> MKDIRS_UNREACHED_SHIFT;
  if (unreached === 0) return { path, count, whole: true };
  return { path: path.split("/").slice(0, -unreached).join("/"), count, whole: false };
}

/**
 * Mount points a plan may remove after the run: those it created on the
 * root's own filesystem. A directory created inside an earlier mount (a tmpfs,
 * a bind) is not on the host under the same path, so it is left alone.
 */
export function removableCreations(steps: readonly Step[], outs: readonly number[], upTo = steps.length): Extract<Step, { op: "rmdirs" }>[] {
  const mountedSoFar: string[] = [];
  const removals: Extract<Step, { op: "rmdirs" }>[] = [];
  for (let i = 0; i < Math.min(upTo + 1, steps.length); i++) {
    const step = steps[i]!;
    if (step.op === "mkdirs" && !step.keep) {
      const created = mkdirsCreated(step.path, outs[i] ?? 0);
      const onRootFs = !mountedSoFar.some((t) => isWithin(step.path, t) && t !== step.path);
      // A step that failed part-way made directories only, never its file.
      if (created.count > 0 && onRootFs) removals.unshift({ op: "rmdirs", path: created.path, count: created.count, file: step.file && created.whole });
    }
    if (step.op === "mount" && step.inRoot && !(step.sourceInRoot && step.source === step.target)) {
      mountedSoFar.push(step.target);
    }
  }
  return removals;
}
