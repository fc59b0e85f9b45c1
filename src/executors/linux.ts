// The linux backend: namespaces, pivot_root, read-only paths, isolated
// network; built natively, no external program.
import { existsSync } from "node:fs";
import { planLinux } from "../plan/linux-plan.ts";
import { defineExecutor } from "./executor.ts";

const NAMESPACES = ["mnt", "pid", "ipc", "uts", "net"];

export const linuxExecutor = defineExecutor({
  name: "linux",
  capabilities: {
    network: ["undefined", "isolated"],
    mounts: ["undefined", "isolated"],
    filesystem_writable_paths: ["all", "none", "any"],
  },
  planner: planLinux,
  unavailableReason() {
    if (process.platform !== "linux") return `the linux backend needs Linux (this is ${process.platform})`;
    const missing = NAMESPACES.filter((ns) => !existsSync(`/proc/self/ns/${ns}`));
    return missing.length ? `this kernel lacks namespaces: ${missing.join(", ")}` : null;
  },
});
