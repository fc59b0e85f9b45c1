// A planned sandbox: host-side steps, child steps, namespaces, and how to
// undo what ran.
import type { Step } from "./steps.ts";

export interface SandboxPlan {
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
  cleanup(hostOuts: readonly number[], hostUpTo: number, childOuts: readonly number[]): Step[];
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
