// What a spawn decides beside its steps, computed from the plan so that it
// can be tested here rather than in C (sandbox.c only follows it).
import { EXIT_NOT_FOUND, EXIT_SETUP_FAILED } from "../base/errors.ts";
import type { Step } from "../base/steps.ts";
import { CLONE_NEWPID } from "../base/kernel-constants.ts";

export interface SpawnPolicy {
  /** The exit status of a sandbox whose setup step failed. */
  setupFailStatus: number;
  /** The exit status of a command that could not be exec'd. */
  execFailStatus: number;
  /**
   * Whether the sandbox process makes itself (and so sandboxlib, whose
   * memory it shares until its exec) non-dumpable: with a PID namespace,
   * so that nothing in the sandbox can read or write that memory through
   * /proc/<pid>/mem or ptrace meanwhile.
   */
  undumpable: boolean;
  /**
   * The descriptors from 3 up that the sandbox process keeps, ascending:
   * the sources of the plan's dup2 steps and the descriptors it passes.
   * It closes the rest at once (the copy of sandboxlib's table it got at
   * clone holds other sandboxes' pipes); the command's close-from step is
   * the guarantee.
   */
  keepFds: Int32Array;
}

export function spawnPolicy(steps: readonly Step[], cloneFlags: number): SpawnPolicy {
  const keep: number[] = [];
  for (const step of steps) {
    if (step.op === "dup2" && step.from >= 3) keep.push(step.from);
    else if (step.op === "close-from") keep.push(...step.keep);
  }
  return {
    setupFailStatus: EXIT_SETUP_FAILED,
    execFailStatus: EXIT_NOT_FOUND,
    undumpable: (cloneFlags & CLONE_NEWPID) !== 0,
    keepFds: new Int32Array([...new Set(keep)]).sort(),
  };
}
