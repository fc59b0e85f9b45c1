// A planned sandbox: host-side steps, child steps, namespaces, and how to
// undo what ran.
import type { Step } from "./steps.ts";

export interface SandboxPlan {
  /** The host path of the sandbox root. */
  root: string;
  /** Whether the plan may create mount points in the root (see root-lock.ts). */
  createsMountPoints: boolean;
  /** Run in this thread before the spawn (mounts of the chroot backend). */
  host: Step[];
  /** Run by the cloned child; ends with exec. */
  child: Step[];
  /** CLONE_NEW* flags of the child. */
  cloneFlags: number;
  /**
   * Steps that undo what ran, given the `out` value of each host and child
   * step and how far the host steps got (the failing index, or all).
   */
  cleanup(hostOuts: readonly number[], hostUpTo: number, childOuts: readonly number[]): Cleanup;
}

export interface Cleanup {
  /** Unmounts of host-side mounts, newest first. */
  unmount: Step[];
  /** Removal of the mount points the plan created, newest first (paths in the root). */
  remove: Extract<Step, { op: "rmdirs" }>[];
}

/** Wraps removal steps with the root they are relative to. */
export function withinRoot(root: string, steps: Step[]): Step[] {
  return steps.length ? [{ op: "open-root", path: root }, ...steps, { op: "close-root" }] : [];
}

/** The command's own steps: stdio, no inherited descriptors, then exec. */
export function commandSteps(input: {
  stdio: readonly [number, number, number];
  argv: readonly string[];
  env: readonly string[];
  searchPath: string | null;
}): Step[] {
  const file = input.argv[0];
  if (file === undefined) throw new Error("plan: empty command");
  return [
    ...input.stdio.map((from, to): Step => ({ op: "dup2", from, to })),
    { op: "close-from", fd: 3 },
    { op: "exec", file, argv: [...input.argv], env: [...input.env], searchPath: input.searchPath },
  ];
}
