// The linux backend: new mount, PID, IPC and UTS namespaces (and network
// when isolated); the root bound onto itself, mounts and read-only paths
// applied inside it, pivot_root, a small init as PID 1, then the command.
import { MS_BIND, MS_REC } from "../config/mount-options.ts";
import { CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS } from "../base/kernel-constants.ts";
import type { PlanInput, PlannedMount } from "../config/plan-input.ts";
import { extraMountSteps, kernelFsReadOnlyPaths, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, removableCreations } from "./mounts.ts";
import { isWithin, shownPath } from "../base/paths.ts";
import { cgroupSteps, commandSteps, type SandboxPlan } from "./sandbox-plan.ts";
import type { Step } from "./steps.ts";

export const DEFAULT_HOSTNAME = "sandbox";

/**
 * The scratch filesystems the user asked for: each tmpfs mount not said to be
 * read-only, and the shm of a minimal /dev. They stay writable when a list of
 * writable paths makes the rest read-only (bubblewrap's tmpfs mounts are
 * writable too): a build with `--writable /build` still writes its /tmp.
 */
export function scratchMounts(mounts: readonly PlannedMount[]): string[] {
  const paths: string[] = [];
  for (const m of mounts) {
    if (m.fstype === "tmpfs" && !m.bind && !m.readOnly) paths.push(m.target);
    if (m.fstype === "dev") paths.push(`${m.target}/shm`);
  }
  return paths;
}

/**
 * Read-only everywhere except the writable paths, submounts included, and
 * the scratch mounts (themselves only: what is mounted on them keeps its
 * flag). A writable path must exist in the root, or be a mount point the
 * extra mounts made: a typo (`--writable /biuld`) fails naming it instead of
 * leaving the real build directory read-only. Paths asked to be created
 * (--writable-create) are made first, and stay.
 */
function writableSteps(input: PlanInput): Step[] {
  // Created on purpose (--writable-create): kept after the run, unlike a mount point.
  const creations: Step[] = (input.createWritable ?? []).map((path) => ({ op: "mkdirs", path, mode: 0o755, file: false, keep: true }));
  if (input.writable === "all") return creations;
  const rdonlyRoot: Step = { op: "setattr", path: "", set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true };
  if (input.writable === "none") return [rdonlyRoot];
  const writable = input.writable;
  const steps: Step[] = [...creations];
  for (const path of writable) {
    // Bound onto itself, a writable path is a mount of its own whose
    // read-only flag can be cleared apart from the root's.
    steps.push({
      op: "mount",
      source: path,
      target: path,
      inRoot: true,
      sourceInRoot: true,
      fstype: null,
      flags: MS_BIND | MS_REC,
      data: null,
      purpose: `bind writable path ${shownPath(path)}`,
    });
  }
  steps.push(rdonlyRoot);
  for (const path of scratchMounts(input.mounts)) steps.push({ op: "setattr", path, set: 0, clear: MOUNT_ATTR_RDONLY, recursive: false });
  for (const path of writable) steps.push({ op: "setattr", path, set: 0, clear: MOUNT_ATTR_RDONLY, recursive: true });
  // Clearing is recursive: read-only mounts asked for below a writable path
  // get their flag back, and so do the kernel files of proc and sysfs.
  const below = (path: string) => writable.some((w) => isWithin(path, w));
  for (const m of input.mounts) {
    if (m.readOnly && below(m.target)) {
      steps.push({ op: "setattr", path: m.target, set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true });
    }
  }
  for (const path of kernelFsReadOnlyPaths(input.mounts)) {
    if (below(path)) steps.push({ op: "setattr", path, set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true, optional: true });
  }
  return steps;
}

/**
 * "/" made private, submounts included: no mount made after it propagates to
 * the host (from the namespace's root when "/" is no mount point, as on a
 * chroot build host).
 */
export const MAKE_ROOT_PRIVATE: Step = { op: "private-root" };

/** "/" made private, then `root` bound onto itself. */
export function privateRootSteps(root: string): Step[] {
  return [
    MAKE_ROOT_PRIVATE,
    { op: "mount", source: root, target: root, inRoot: false, sourceInRoot: false, fstype: null, flags: MS_BIND | MS_REC, data: null },
  ];
}

/**
 * The command's capabilities steps learn where the pivot-root step is: when
 * pivot_root was refused and the root entered by chroot instead, they drop
 * CAP_SYS_CHROOT too.
 */
function linkPivotStep(steps: Step[]): Step[] {
  const pivotStep = steps.findIndex((s) => s.op === "pivot-root");
  return steps.map((s) => (s.op === "capabilities" ? { ...s, pivotStep } : s));
}

/** What the host allows the plan (see src/executors/environment.ts). */
export interface LinuxHost {
  /** The loopback interface of an isolated network can be brought up (CAP_NET_ADMIN). */
  loopback: boolean;
  /** Told when pivot_root was refused and the root entered by MS_MOVE and chroot. */
  onMovedRoot?: () => void;
}

export function planLinux(input: PlanInput, host: LinuxHost = { loopback: true }): SandboxPlan {
  let cloneFlags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  if (input.network === "isolated") cloneFlags |= CLONE_NEWNET;
  const child: Step[] = linkPivotStep([
    // Opened first, while the host's cgroup paths are reachable.
    ...cgroupSteps(input),
    ...privateRootSteps(input.root),
    { op: "open-root", path: input.rootReentry },
    // No device nodes, no set-user-ID programs anywhere in the root, its
    // submounts included; before the extra mounts, so that --dev's nodes work.
    { op: "setattr", path: "", set: MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, clear: 0, recursive: true },
    ...extraMountSteps(input.mounts),
    ...writableSteps(input),
    { op: "close-root" },
    { op: "pivot-root", path: input.rootReentry, moveFallback: true },
    { op: "sethostname", name: input.hostname ?? DEFAULT_HOSTNAME },
    ...(input.network === "isolated" && host.loopback ? [{ op: "loopback-up" } as Step] : []),
    { op: "chdir", path: input.cwd },
    { op: "fork-command" },
    ...commandSteps(input, true),
  ]);
  const pivotStep = child.findIndex((s) => s.op === "pivot-root");
  return {
    root: input.root,
    createsMountPoints: child.some((s) => s.op === "mkdirs"),
    child,
    cloneFlags,
    cleanup(childOuts) {
      // Mounts vanish with the namespace; only created mount points remain.
      return { remove: removableCreations(child, childOuts) };
    },
    spawned(childOuts) {
      if (childOuts[pivotStep] === 1) host.onMovedRoot?.();
    },
  };
}
