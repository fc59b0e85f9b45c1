// The seed's backend: chroot(2) into the root, in the host's PID and network
// namespaces. Mounts are made in a mount namespace of the sandbox's own (none
// without mounts); a small init kills what the command leaves running. The
// command has no CAP_SYS_CHROOT, so it cannot leave the chroot the classic
// way; root inside still shares the host's processes and network. Kept for
// hosts where namespaces are refused (inside `docker build`).
import { COMMON_FEATURES } from "../config/capabilities.ts";
import { configError } from "../base/errors.ts";
import { capabilityName } from "../hardening/capabilities.ts";
import { CHROOT_WITHHELD_CAPABILITIES, planChroot } from "../plan/chroot-plan.ts";
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
  unavailableReason: () => null,
  check(config, options) {
    // No UTS namespace here: setting it would rename the host.
    if (config.hostname !== null) throw configError(`hostname=${config.hostname} is not supported by the chroot backend`);
    for (const name of options.capAdd ?? []) {
      const cap = capabilityName(name);
      if (CHROOT_WITHHELD_CAPABILITIES.includes(cap)) {
        throw configError(`capability ${cap} is not supported by the chroot backend (with it, root inside leaves the chroot; use the linux backend)`);
      }
    }
  },
});
