// The chroot backend: chroot(2) into the root, in the host's PID namespace.
// Its mounts are made in a mount namespace of the sandbox's own, "/" made
// private first, so that none is ever visible on the host and all vanish
// with the sandbox's last process; without mounts no namespace is created
// (it must run where creating one is refused: inside `docker build`). The
// sandbox process stays as the command's init, in the host's root: a child
// subreaper that kills whatever the command leaves running (see init.c). So
// it forks first, and only the command process is chrooted.
import { CLONE_NEWNS } from "../base/kernel-constants.ts";
import type { PlanInput } from "../config/plan-input.ts";
import { privateRootSteps } from "./linux-plan.ts";
import { extraMountSteps, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, removableCreations } from "./mounts.ts";
import { cgroupSteps, commandSteps, type SandboxPlan } from "./sandbox-plan.ts";
import type { Step } from "./steps.ts";

/**
 * Capabilities the command never keeps here: with CAP_SYS_CHROOT, root inside
 * leaves a chroot (chroot into a subdirectory, then ".." past the root).
 */
export const CHROOT_WITHHELD_CAPABILITIES: readonly string[] = ["SYS_CHROOT"];

export function planChroot(input: PlanInput): SandboxPlan {
  const mountSteps = extraMountSteps(input.mounts);
  // With a mount namespace of its own, the root is bound onto itself and made
  // nodev,nosuid like the linux backend's (a device node an image carried
  // opens nothing); the command is chrooted into that bind, which a path
  // reaching the mount stacked on the root leads to ("/etc/.." for "/").
  const mounts: Step[] = mountSteps.length
    ? [
        ...privateRootSteps(input.root),
        { op: "open-root", path: input.rootReentry },
        { op: "setattr", path: "", set: MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, clear: 0, recursive: true },
        ...mountSteps,
        { op: "close-root" },
      ]
    : [];
  const chrootInto = mounts.length ? input.rootReentry : input.root === "/" ? null : input.root;
  const hardening = { ...input.hardening, capabilities: input.hardening.capabilities.filter((c) => !CHROOT_WITHHELD_CAPABILITIES.includes(c)) };
  const child: Step[] = [
    // Opened first, while the host's cgroup paths are reachable.
    ...cgroupSteps(input),
    ...mounts,
    { op: "fork-command" },
    ...(chrootInto === null ? [] : [{ op: "chroot", path: chrootInto } as Step]),
    { op: "chdir", path: input.cwd },
    ...commandSteps({ ...input, hardening }, false),
  ];
  return {
    root: input.root,
    createsMountPoints: child.some((s) => s.op === "mkdirs"),
    child,
    cloneFlags: mounts.length ? CLONE_NEWNS : 0,
    cleanup(childOuts) {
      // Mounts vanish with the namespace; only created mount points remain.
      return { remove: removableCreations(child, childOuts) };
    },
  };
}
