// A planned sandbox: the steps of its process, its namespaces, and what is
// left to remove after it.
import { capabilityMask } from "../hardening/capabilities.ts";
import { seccompFilter } from "../hardening/seccomp.ts";
import type { PlanInput } from "../config/plan-input.ts";
import type { Step } from "./steps.ts";

export interface SandboxPlan {
  /** The host path of the sandbox root. */
  root: string;
  /** Whether the plan may create mount points in the root (see mount-points.ts). */
  createsMountPoints: boolean;
  /**
   * Run by the cloned sandbox process; ends with exec. After its
   * fork-command step, the rest runs in the command process and the sandbox
   * process stays as the command's init.
   */
  child: Step[];
  /** CLONE_NEW* flags of the child. With CLONE_NEWPID its init is PID 1; without, a child subreaper. */
  cloneFlags: number;
  /** What is left to undo, given the `out` value of each child step. */
  cleanup(childOuts: readonly number[]): Cleanup;
  /** Told what the child's steps left in their `out` once it is spawned (a fallback it took, say). */
  spawned?(childOuts: readonly number[]): void;
}

export interface Cleanup {
  /** Removal of the mount points the plan created, newest first (paths in the root). */
  remove: Extract<Step, { op: "rmdirs" }>[];
}

/** Wraps removal steps with the root they are relative to. */
export function withinRoot(root: string, steps: Step[]): Step[] {
  return steps.length ? [{ op: "open-root", path: root }, ...steps, { op: "close-root" }] : [];
}

/**
 * The command process's own steps, in the order they must run: its session
 * and limits, its stdio, no inherited descriptors, then privileges are shed
 * (bounding set while still able to, ids, capabilities, no_new_privs) and the
 * seccomp filter comes last, just before exec.
 */
export function commandSteps(input: PlanInput, ownPidNamespace: boolean): Step[] {
  const file = input.argv[0];
  if (file === undefined) throw new Error("plan: empty command");
  const h = input.hardening;
  const keep = capabilityMask(h.capabilities);
  // Only the command joins the cgroups, first, so that all it starts is in
  // them. It still shares sandboxlib's memory until its exec: its cgroup
  // gets its memory limit only after that exec (see supervise/cgroups.ts),
  // or the OOM killer could pick it and take sandboxlib with it. The init
  // opened the files (steps 0..n-1).
  const steps: Step[] = input.cgroupProcs.map((_, i): Step => ({ op: "write-fd", openedBy: i, content: "0" }));
  if (h.newSession) steps.push({ op: "setsid" });
  for (const r of h.rlimits) steps.push({ op: "rlimit", ...r });
  steps.push(...input.stdio.map((from, to): Step => ({ op: "dup2", from, to })));
  for (const fd of h.passFds) steps.push({ op: "dup2", from: fd, to: fd });
  steps.push({ op: "close-from", fd: 3, keep: h.passFds });
  const becomesUser = h.uid !== null && h.uid !== 0;
  steps.push({ op: "capabilities", keep, setEffective: false });
  if (h.uid !== null || h.gid !== null) steps.push({ op: "set-ids", uid: h.uid ?? 0, gid: h.gid ?? 0 });
  // Root keeps exactly the kept set; another user gets none (setresuid
  // cleared them) and cannot regain any: the bounding set is cut too.
  if (!becomesUser) steps.push({ op: "capabilities", keep, setEffective: true });
  steps.push({ op: "no-new-privs" });
  if (h.seccomp) {
    const allowMounts = h.capabilities.includes("SYS_ADMIN");
    steps.push({ op: "seccomp", filter: seccompFilter({ arch: h.arch, allowMounts, ownPidNamespace }) });
  }
  steps.push({ op: "exec", file, argv: [...input.argv], env: [...input.env], searchPath: input.searchPath, afterLauncher: h.processLimit });
  return steps;
}

const O_WRONLY_CLOEXEC = 0o2000001;

/**
 * Opens the cgroup.procs files while the host's paths are still reachable;
 * they must be the plan's first steps (commandSteps writes through them).
 */
export function cgroupSteps(input: PlanInput): Step[] {
  return input.cgroupProcs.map((path): Step => ({ op: "open-fd", path, flags: O_WRONLY_CLOEXEC, mode: 0, fd: -1 }));
}
