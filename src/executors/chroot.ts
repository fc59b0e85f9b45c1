// The seed's backend: chroot(2) into the root, extra mounts made on the host
// and undone afterwards. No isolation of mounts or network; root inside can
// escape a chroot. Kept for hosts and uses where that is enough.
import { COMMON_FEATURES } from "../config/capabilities.ts";
import { configError } from "../config/errors.ts";
import { planChroot } from "../plan/chroot-plan.ts";
import { defineExecutor } from "./executor.ts";

export const chrootExecutor = defineExecutor({
  name: "chroot",
  capabilities: {
    network: ["undefined"],
    mounts: ["undefined"],
    filesystem_writable_paths: ["all"],
    features: [...COMMON_FEATURES],
  },
  planner: planChroot,
  hasInit: false,
  unavailableReason: () => null,
  check(config) {
    // No UTS namespace here: setting it would rename the host.
    if (config.hostname !== null) throw configError(`hostname=${config.hostname} is not supported by the chroot backend`);
  },
});
