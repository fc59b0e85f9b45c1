// Attack: mount points that set-up creates in the root, left behind (issue 13
// item 8, contract C8). They were journalled only after the sandbox started,
// so a sandboxlib SIGKILLed in between, or a journal that could not be
// written (then "internal error: ENOSPC"), left them in the root for good.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AttackSetting, attackSetting, BACKENDS, runRaw, spawnSandboxlib } from "../helpers/attack.ts";
import { unmountAllUnder } from "../helpers/host-cleanup.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/mount-points.test.ts");

let setting: AttackSetting;
beforeAll(() => {
  if (isRoot) setting = attackSetting("journal");
});
afterAll(() => setting?.dispose());

/** Entries of the root's top level that a run created (the root's own are fixed). */
const madeInRoot = () => readdirSync(setting.root).filter((n) => n.startsWith("made-"));
const removeMade = () => {
  unmountAllUnder(setting.root);
  for (const n of madeInRoot()) rmSync(join(setting.root, n), { recursive: true, force: true });
};

/** Whether `pid`, a child of this process, has exited (a zombie not yet reaped, or gone), without the event loop. */
function exitedNow(pid: number): boolean {
  try {
    // The state follows the command name in parentheses, which may hold spaces.
    return readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").startsWith("Z");
  } catch {
    return true;
  }
}

/** A state directory on a mount the test makes: read-only, or a full tmpfs. */
function stateDir(kind: "read-only" | "full"): { dir: string; undo(): void } {
  const dir = join(setting.scratch, `state-${kind}`);
  mkdirSync(dir, { recursive: true });
  const sh = (cmd: string) => expect(Bun.spawnSync(["sh", "-c", cmd], { stderr: "pipe" }).exitCode).toBe(0);
  if (kind === "read-only") sh(`mount --bind ${dir} ${dir} && mount -o remount,bind,ro ${dir}`);
  else {
    sh(`mount -t tmpfs -o size=64k,nr_inodes=16 none ${dir}`);
    // Fill it: data blocks, then the remaining inodes.
    Bun.spawnSync(["sh", "-c", `dd if=/dev/zero of=${dir}/fill bs=4k count=64; i=0; while touch ${dir}/f$i 2>/dev/null; do i=$((i+1)); done`], { stderr: "ignore" });
  }
  return { dir, undo: () => void Bun.spawnSync(["umount", "-l", dir]) };
}

for (const backend of BACKENDS) {
  const args = (...rest: string[]) => ["run", "--backend", backend, "--root", setting.root, ...rest];

  describe.skipIf(!isRoot)(`${backend}: created mount points (C8)`, () => {
    for (const kind of ["read-only", "full"] as const) {
      test(`a journal that cannot be written (${kind} state directory) is exit 125 naming it, and nothing is created`, async () => {
        const state = stateDir(kind);
        try {
          const r = await runRaw(args("--tmpfs", "/made-c8/x", "true"), { env: { SANDBOXLIB_STATE_DIR: state.dir } });
          expect({ code: r.code, created: madeInRoot() }).toEqual({ code: 125, created: [] });
          expect(r.stderr).toMatch(/^sandboxlib: [^\n]*\n$/);
          expect(r.stderr).toContain(state.dir);
          expect(r.stderr).not.toContain("internal error");
        } finally {
          state.undo();
          removeMade();
        }
      });
    }

    test("a mount point whose creation fails part-way (a name too long) leaves none of the directories made for it", async () => {
      try {
        const r = await runRaw(args("--tmpfs", `/made-partial/a/${"x".repeat(300)}/c`, "true"));
        expect(r.code).toBe(125);
        expect(r.stderr).toMatch(/^sandboxlib: cannot create mount point [^\n]*: File name too long\n$/);
        expect(madeInRoot()).toEqual([]);
      } finally {
        removeMade();
      }
    });

    test("after sandboxlib is SIGKILLed just after set-up created a mount point, the next run removes it", async () => {
      // Many mounts after the created one widen the window between creating it
      // and starting the command; the kill comes as soon as the host sees it.
      const stack = Array.from({ length: 150 }, () => ["--tmpfs", "/data/1"]).flat();
      try {
        let caught = 0;
        for (let i = 0; i < 12; i++) {
          const proc = spawnSandboxlib(args("--tmpfs", `/made-${i}/x`, ...stack, "true"));
          const target = join(setting.root, `made-${i}`);
          // (proc.exitCode is not updated while this loop holds the event
          // loop: a run over before the target was seen would spin forever.)
          while (!exitedNow(proc.pid) && !existsSync(target)) Bun.sleepSync(0.2);
          proc.kill("SIGKILL");
          await proc.exited;
          if (proc.signalCode === "SIGKILL") caught++;
        }
        expect(caught).toBeGreaterThan(0); // the kill did land during set-up at least once
        const next = await runRaw(args("true"));
        expect(next.code).toBe(0);
        expect(madeInRoot()).toEqual([]);
      } finally {
        removeMade();
      }
    }, 60_000);
  });
}
