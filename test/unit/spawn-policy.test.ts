// What a spawn decides beside its steps (src/native/spawn-policy.ts), which
// sandbox.c only follows: exit statuses, the dumpable rule, the descriptors
// the sandbox process keeps.
import { describe, expect, test } from "bun:test";
import { CLONE_NEWNS, CLONE_NEWPID } from "../../src/base/kernel-constants.ts";
import { spawnPolicy } from "../../src/native/spawn-policy.ts";
import type { Step } from "../../src/plan/steps.ts";

const exec: Step = { op: "exec", file: "true", argv: ["true"], env: [], searchPath: null };

describe("spawn policy", () => {
  test("a failed setup step exits 125, a command that cannot be exec'd 127", () => {
    const p = spawnPolicy([exec], 0);
    expect([p.setupFailStatus, p.execFailStatus]).toEqual([125, 127]);
  });

  test("non-dumpable with a PID namespace only (its init is PID 1 beside the command)", () => {
    expect(spawnPolicy([exec], CLONE_NEWPID | CLONE_NEWNS).undumpable).toBe(true);
    expect(spawnPolicy([exec], CLONE_NEWNS).undumpable).toBe(false);
    expect(spawnPolicy([exec], 0).undumpable).toBe(false);
  });

  test("kept descriptors: dup2 sources from 3 up and passed descriptors, ascending; stdio redirections keep nothing", () => {
    const steps: Step[] = [
      { op: "dup2", from: 9, to: 0 },
      { op: "dup2", from: 1, to: 1 },
      { op: "dup2", from: 2, to: 2 },
      { op: "dup2", from: 12, to: 12 },
      { op: "dup2", from: 5, to: 5 },
      { op: "close-from", fd: 3, keep: [12, 5] },
      exec,
    ];
    // Each once: the sandbox process closes the rest at once only while it keeps at most 60.
    expect([...spawnPolicy(steps, 0).keepFds]).toEqual([5, 9, 12]);
    expect([...spawnPolicy([exec], 0).keepFds]).toEqual([]);
  });
});
