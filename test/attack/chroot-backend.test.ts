// Attack: the chroot backend's mounts and its root (issue 13 items 5 and 6,
// contract C5 and C6). Its mounts were made on the host and could be left
// there (a leaked read-write bind under a root later removed with rm -rf
// takes host data with it); root inside kept CAP_SYS_CHROOT and could leave
// the chroot. (Its processes: processes.test.ts.)
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type AttackSetting, attackSetting, runRaw, startedSandbox } from "../helpers/attack.ts";
import { killMarked, mountPointsUnder, settles, unmountAllUnder } from "../helpers/host-cleanup.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/chroot-backend.test.ts");

let setting: AttackSetting;
let bound = "";
beforeAll(() => {
  if (!isRoot) return;
  setting = attackSetting("chroot");
  bound = join(setting.scratch, "bound");
  mkdirSync(bound);
});
afterAll(() => setting?.dispose());

const MARK = `sbx-attack-chroot-${process.pid}`;
// What a failing test leaves (mounts on the host, processes) goes at once.
afterEach(() => {
  if (!isRoot) return;
  killMarked(MARK);
  unmountAllUnder(setting.root);
  rmSync(join(bound, "started"), { force: true });
});

const chroot = (...rest: string[]) => ["run", "--backend", "chroot", "--root", setting.root, "--env", `MARK=${MARK}`, ...rest];
const withMounts = () => ["--tmpfs", "/tmp", "--bind", `${bound}:/bound`, "--proc", "/proc", "--dev", "/dev"];

const started = (options: string[], script: string) => startedSandbox(chroot(...options), bound, script);

describe.skipIf(!isRoot)("chroot: mounts (C5)", () => {
  test("the sandbox's mounts are not in the host's mount table while the command runs", async () => {
    const proc = await started(["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"], "true");
    try {
      expect(mountPointsUnder(setting.root)).toEqual([]);
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  });

  test("no mount is left on the host after sandboxlib is SIGKILLed", async () => {
    const proc = await started(["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"], "true");
    proc.kill("SIGKILL");
    await proc.exited;
    await settles(() => mountPointsUnder(setting.root).length === 0);
    expect(mountPointsUnder(setting.root)).toEqual([]);
  });

  test("concurrent runs sharing a root all succeed and leak no mount (10 rounds of 3)", async () => {
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all([0, 1, 2].map(() => runRaw(chroot(...withMounts(), "true"))));
      expect(results.map((r) => [r.code, r.stderr])).toEqual([[0, ""], [0, ""], [0, ""]]);
      expect(mountPointsUnder(setting.root)).toEqual([]);
    }
  }, 30_000);

  test("batch of chroot lines with mounts leaks no mount, with --jobs 1 and --jobs 3", async () => {
    const line = JSON.stringify({ command: ["true"], filesystem_root: setting.root, backend: "chroot", tmpfs: "/tmp", proc: "/proc", bind: `${bound}:/bound` });
    for (const jobs of ["1", "3"]) {
      const r = await runRaw(["batch", "--jobs", jobs, "-"], { stdin: `${Array(12).fill(line).join("\n")}\n` });
      expect({ jobs, code: r.code, stderr: r.stderr }).toEqual({ jobs, code: 0, stderr: "" });
      expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l).exit_code)).toEqual(Array(12).fill(0));
      expect(mountPointsUnder(setting.root)).toEqual([]);
    }
  }, 30_000);
});

describe.skipIf(!isRoot)("chroot: escaping the root (C6)", () => {
  test("the classic chroot escape fails: no CAP_SYS_CHROOT", async () => {
    const inside = (await runRaw(chroot("ls", "/"))).stdout.split("\n").filter(Boolean).sort();
    const escaped = await runRaw(chroot("/bin/chroot-escape"));
    rmSync(join(setting.root, "tmp/escape"), { recursive: true, force: true });
    // Either chroot(2) is refused (the program exits 2) or "/" is still the sandbox's.
    if (escaped.code === 2) expect(escaped.stderr).toBe("chroot: Operation not permitted\n");
    else expect(escaped.stdout.split("\n").filter(Boolean).sort()).toEqual(inside);
  });
});
