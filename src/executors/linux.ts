// The linux backend: namespaces, pivot_root, read-only paths, isolated
// network; built natively, no external program.
import { COMMON_FEATURES } from "../config/capabilities.ts";
import { loopbackKnownRefused } from "./environment.ts";
import { exists, writeText } from "../native/libc.ts";
import { planLinux } from "../plan/linux-plan.ts";
import { defineExecutor } from "./executor.ts";

const NAMESPACES = ["mnt", "pid", "ipc", "uts", "net"];

/** What the kernel lacks, if anything; it does not change while sandboxlib runs. */
function kernelSupport(): string | null {
  if (process.platform !== "linux") return `the linux backend needs Linux (this is ${process.platform})`;
  const missing = NAMESPACES.filter((ns) => !exists(`/proc/self/ns/${ns}`));
  return missing.length ? `this kernel lacks namespaces: ${missing.join(", ")}` : null;
}

let kernelReason: { reason: string | null } | undefined;

let movedRootWarned = false;

/** No warning about the way into the root from now on (`check` says it its own way). */
export function quietMovedRoot(): void {
  movedRootWarned = true;
}

/** pivot_root was refused and the root entered by MS_MOVE + chroot (src/native/steps.c): said once per process. */
function warnMovedRoot(): void {
  if (movedRootWarned) return;
  movedRootWarned = true;
  writeText(
    2,
    "sandboxlib: warning: pivot_root is refused here (a container's seccomp profile?): the sandbox root was entered by moving it onto / and chroot, the old root stays beneath it, and the command runs without CAP_SYS_CHROOT so that it cannot climb back; for pivot_root: docker run --security-opt seccomp=unconfined\n",
  );
}

export const linuxExecutor = defineExecutor({
  name: "linux",
  capabilities: {
    network: ["undefined", "isolated"],
    mounts: ["undefined", "isolated"],
    filesystem_writable_paths: ["all", "none", "any"],
    features: [...COMMON_FEATURES, "pid_namespace", "ipc_namespace", "uts_namespace", "hostname"],
  },
  // Without CAP_NET_ADMIN the loopback is left down only for runs fitted
  // with --degrade; others are refused before planning (environment.ts).
  planner: (input) => planLinux(input, { loopback: !loopbackKnownRefused(), onMovedRoot: warnMovedRoot }),
  unavailableReason: () => (kernelReason ??= { reason: kernelSupport() }).reason,
});
