// The backend used when none is named (no --backend, no SANDBOXLIB_BACKEND):
// the linux backend where it can run, else the chroot backend, with one
// warning line saying why and what would give more isolation.
//
// Deciding costs nothing where the linux backend works: no probe runs and
// nothing is read. The linux backend is tried; a refusal of its namespaces
// or of its first mounts (no CAP_SYS_ADMIN, a seccomp profile, a security
// module) sends this run, and every later one of the process, to the chroot
// backend: one failed clone, tens of microseconds. A refused pivot_root
// alone keeps the namespaces (src/native/steps.c enters the root by MS_MOVE + chroot).
import type { Capabilities } from "../config/capabilities.ts";
import { geteuid, writeText } from "../native/libc.ts";
import { CONTAINER_REMEDY, knownLinuxRefusal, learnedLinuxRefusal, LinuxRefused, markDegraded, markFallback, redirected } from "./environment.ts";
import type { BackendName, Executor } from "./executor.ts";

let instance: Executor | undefined;
let warned = false;

/** No fallback warning from now on (`check` says it its own way). */
export function quietFallback(): void {
  warned = true;
}

/** The warning of a fallback, once per process. */
function warnFallback(reason: string): void {
  if (warned) return;
  warned = true;
  writeText(
    2,
    `sandboxlib: warning: the linux backend cannot run here: ${reason}; using the chroot backend, without namespaces (the command's capabilities, seccomp filter, no_new_privs, rlimits and timeouts still apply); for namespaces: ${CONTAINER_REMEDY}\n`,
  );
}

/** Why the linux backend is known not to run here (kernel, capabilities, an earlier refusal), or null. */
function refusal(linux: Executor): string | null {
  return linux.unavailableReason() ?? knownLinuxRefusal();
}

/** The same, from what costs nothing to know: a run tries the linux backend unless this says no. */
function learnedRefusal(linux: Executor): string | null {
  return linux.unavailableReason() ?? learnedLinuxRefusal();
}

export function defaultExecutor(linux: Executor, chroot: Executor): Executor {
  if (instance) return instance;
  const chosen = () => (refusal(linux) === null ? linux : chroot);
  const executor: Executor = {
    get name(): BackendName {
      return chosen().name;
    },
    get CAPABILITIES(): Capabilities {
      return chosen().CAPABILITIES;
    },
    unavailableReason: () => linux.unavailableReason() && chroot.unavailableReason(),
    degradeConfigForCapabilities(options, warn = true) {
      // Known to fall back: degrade for the chroot backend now. Not known:
      // marked, so that a fallback degrades instead of failing.
      return refusal(linux) === null ? markDegraded(options, warn) : chroot.degradeConfigForCapabilities(options, warn);
    },
    async runSandbox(command, options = {}) {
      // Not root: the linux backend says so, as the chroot backend would.
      if (geteuid() !== 0) return linux.runSandbox(command, options);
      let reason = learnedRefusal(linux);
      if (reason === null) {
        try {
          return await linux.runSandbox(command, options);
        } catch (e) {
          if (!(e instanceof LinuxRefused)) throw e;
          reason = e.reason;
        }
      }
      const why = reason;
      return chroot.runSandbox(command, markFallback(options, { reason, proceeding: () => warnFallback(why) }));
    },
    runSandboxWithRedirection: (command, options = {}) => redirected(executor, command, options),
    // The backend a run tries first: the linux one unless it is known to be refused here.
    planSandbox: (command, options = {}) => chosen().planSandbox(command, options),
  };
  return (instance = executor);
}
