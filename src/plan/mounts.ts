// Steps that create the extra mounts inside the root; shared by backends.
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC } from "../config/mount-options.ts";
import type { PlannedMount } from "./input.ts";
import { isWithin } from "./paths.ts";
import type { Step } from "./steps.ts";

// mount_setattr(2) attributes.
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;

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
 * Creates each mount point that is missing, then mounts. A bind ignores
 * per-mount flags, so its ro/nosuid/nodev/noexec are applied afterwards to
 * the whole bound tree, submounts included.
 */
export function extraMountSteps(mounts: readonly PlannedMount[]): Step[] {
  const steps: Step[] = [];
  for (const m of mounts) {
    steps.push({ op: "mkdirs", path: m.target, mode: 0o755, file: m.sourceIsFile });
    if (m.fstype === "dev") {
      steps.push(...devSteps(m.target));
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
      const attrs = bindAttributes(m.flags);
      if (attrs) steps.push({ op: "setattr", path: m.target, set: attrs, clear: 0, recursive: true });
      continue;
    }
    steps.push(fsMount(m.source ?? m.fstype ?? "none", m.target, m.fstype ?? "none", m.flags, m.data));
  }
  return steps;
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
    if (step.op === "mkdirs") {
      const created = outs[i] ?? 0;
      const onRootFs = !mountedSoFar.some((t) => isWithin(step.path, t) && t !== step.path);
      if (created > 0 && onRootFs) removals.unshift({ op: "rmdirs", path: step.path, count: created, file: step.file });
    }
    if (step.op === "mount" && step.inRoot && !(step.sourceInRoot && step.source === step.target)) {
      mountedSoFar.push(step.target);
    }
  }
  return removals;
}
