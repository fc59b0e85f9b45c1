// Attack: outliving the run (issue 13 item 6, contract C6 for the chroot
// backend; the linux backend's init and PID namespace already do this). A
// build leaves daemons behind: setsid'd, double-forked, in the background;
// none may survive the command's exit, nor a SIGKILL of sandboxlib.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type AttackSetting, attackSetting, BACKENDS, runRaw, startedSandbox } from "../helpers/attack.ts";
import { killMarked, processesMarked, settles, unmountAllUnder } from "../helpers/host-cleanup.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/processes.test.ts");

let setting: AttackSetting;
let bound = "";
beforeAll(() => {
  if (!isRoot) return;
  setting = attackSetting("proc");
  bound = join(setting.scratch, "bound");
  mkdirSync(bound);
});
afterAll(() => setting?.dispose());

const MARK = `sbx-attack-procs-${process.pid}`;
// What a failing test leaves goes at once (and the mounts a killed chroot sandbox left on main).
afterEach(() => {
  if (!isRoot) return;
  killMarked(MARK);
  unmountAllUnder(setting.root);
});

/** Every process of the sandbox carries MARK in its environment: after the run, none may be left. */
const survivors = async () => {
  await settles(() => processesMarked(MARK).length === 0);
  return processesMarked(MARK);
};

for (const backend of BACKENDS) {
  // /dev/null is needed by busybox sh for background jobs.
  const args = (...rest: string[]) => ["run", "--backend", backend, "--root", setting.root, "--env", `MARK=${MARK}`, "--dev", "/dev", ...rest];

  describe.skipIf(!isRoot)(`${backend}: nothing outlives the run (C6)`, () => {
    test("a setsid'd child is gone once the command exits (no cgroup)", async () => {
      const r = await runRaw(args("sh", "-c", "setsid sleep 1000 >/dev/null 2>&1 & sleep 0.2; echo started"));
      expect(r.stdout).toBe("started\n");
      expect(await survivors()).toEqual([]);
    });

    test("a double-forked daemon is gone once the command exits", async () => {
      const r = await runRaw(args("sh", "-c", "(setsid sh -c 'sleep 1000 & sleep 1000' >/dev/null 2>&1 &) ; sleep 0.2; echo started"));
      expect(r.stdout).toBe("started\n");
      expect(await survivors()).toEqual([]);
    });

    test("background, setsid'd and double-forked children are gone after sandboxlib is SIGKILLed", async () => {
      const proc = await startedSandbox(args(), bound, "exec >/dev/null 2>&1; sleep 1000 & setsid sleep 1000 & (setsid sh -c 'sleep 1000 &' &); sleep 0.2");
      proc.kill("SIGKILL");
      await proc.exited;
      expect(await survivors()).toEqual([]);
    });

    test("the same after SIGKILL of sandboxlib with a --pids cgroup", async () => {
      const proc = await startedSandbox(args("--pids", "100"), bound, "exec >/dev/null 2>&1; sleep 1000 & setsid sleep 1000 & (setsid sh -c 'sleep 1000 &' &); sleep 0.2");
      proc.kill("SIGKILL");
      await proc.exited;
      expect(await survivors()).toEqual([]);
    });
  });
}
