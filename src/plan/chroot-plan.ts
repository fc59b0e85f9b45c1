// The seed's chroot backend: mounts made in the host's mount namespace
// before the command (and undone after it), then chroot, chdir, exec.
import type { PlanInput } from "./input.ts";
import { extraMountSteps, removableCreations } from "./mounts.ts";
import { cgroupSteps, commandSteps, type SandboxPlan } from "./sandbox-plan.ts";
import type { Step } from "./steps.ts";

const MNT_DETACH = 2;

export function planChroot(input: PlanInput): SandboxPlan {
  const mountSteps = extraMountSteps(input.mounts, true);
  const host: Step[] = mountSteps.length
    ? [{ op: "open-root", path: input.root }, ...mountSteps, { op: "close-root" }]
    : [];
  const child: Step[] = [
    ...cgroupSteps(input),
    ...(input.root === "/" ? [] : [{ op: "chroot", path: input.root } as Step]),
    { op: "chdir", path: input.cwd },
    ...commandSteps(input, false),
  ];
  return {
    root: input.root,
    createsMountPoints: host.some((s) => s.op === "mkdirs"),
    host,
    child,
    cloneFlags: 0,
    hasInit: false,
    cleanup(hostOuts, hostUpTo) {
      const unmounts: Step[] = [];
      host.forEach((step, i) => {
        if (i <= hostUpTo && step.op === "mount" && (hostOuts[i] ?? -1) >= 0) {
          unmounts.unshift({ op: "umount-handle", handleOf: i, flags: MNT_DETACH });
        }
      });
      return { unmount: unmounts, remove: removableCreations(host, hostOuts, hostUpTo) };
    },
  };
}
