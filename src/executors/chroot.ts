// The seed's backend: chroot(2) into the root, extra mounts made on the host
// and undone afterwards. No isolation of mounts or network; root inside can
// escape a chroot. Kept for hosts and uses where that is enough.
import { planChroot } from "../plan/chroot-plan.ts";
import { defineExecutor } from "./executor.ts";

export const chrootExecutor = defineExecutor({
  name: "chroot",
  capabilities: {
    network: ["undefined"],
    mounts: ["undefined"],
    filesystem_writable_paths: ["all"],
  },
  planner: planChroot,
  unavailableReason: () => null,
});
