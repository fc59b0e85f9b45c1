// Attack: descriptors. sandboxlib's own descriptors handed to the command
// with --pass-fd/--status-fd (issue 13 item 4, contract C4: the command
// registered an epoll event with a pointer of its choosing and Bun
// dereferenced it), the caller's descriptors leaking in, a working directory
// reached through a leaked descriptor (runc CVE-2024-21626), and the runtime
// binary reopened through /proc/<pid>/exe (runc CVE-2019-5736).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, copyFileSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AttackSetting, attackSetting, BACKENDS, PROBE, runRaw } from "../helpers/attack.ts";
import { BIN } from "../helpers/cli.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/descriptors.test.ts");

const SECRET = "host-only-d6f1c2";
let setting: AttackSetting;
let hostDir = "";
beforeAll(() => {
  if (!isRoot) return;
  setting = attackSetting("fd");
  hostDir = join(setting.scratch, "host-dir");
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, SECRET), "secret\n");
});
afterAll(() => setting?.dispose());

/** Runs sandboxlib with host directory descriptors at 3..9 (a careless caller's leak). */
async function withLeakedDirs(args: string[]) {
  const fds = Array.from({ length: 7 }, () => openSync(hostDir, "r"));
  try {
    return await runRaw(args, { fds });
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

for (const backend of BACKENDS) {
  const args = (...rest: string[]) => ["run", "--backend", backend, "--root", setting.root, ...rest];

  describe.skipIf(!isRoot)(`${backend}: descriptors`, () => {
    test("C4: --pass-fd N of a descriptor sandboxlib opened itself (3..20) is exit 125, one line", async () => {
      for (let n = 3; n <= 20; n++) {
        const r = await runRaw(args("--pass-fd", String(n), "true"));
        expect({ n, code: r.code, signal: r.signal }).toEqual({ n, code: 125, signal: null });
        expect(r.stderr).toMatch(new RegExp(`^sandboxlib: invalid value for --pass-fd: ${n} \\([^\\n]*\\)\\n$`));
      }
    });

    test("C4: --pass-fd 3 and 4 (sandboxlib's epoll and eventfd on main) say they were not inherited from the caller", async () => {
      for (const n of [3, 4]) {
        const r = await runRaw(args("--pass-fd", String(n), "true"));
        expect(r.stderr).toBe(`sandboxlib: invalid value for --pass-fd: ${n} (not a descriptor inherited from the caller)\n`);
      }
    });

    test("C4: --status-fd N of a descriptor sandboxlib opened itself (3..12) is exit 125, one line, no internal error", async () => {
      for (let n = 3; n <= 12; n++) {
        const r = await runRaw(args("--status-fd", String(n), "true"));
        expect({ n, code: r.code, signal: r.signal }).toEqual({ n, code: 125, signal: null });
        expect(r.stderr).toMatch(new RegExp(`^sandboxlib: invalid value for --status-fd: ${n} \\([^\\n]*\\)\\n$`));
      }
    });

    test("control: a descriptor inherited from the caller can still be passed", async () => {
      const r = await withLeakedDirs(args("--pass-fd", "5", PROBE, "fds"));
      expect(r.stdout.split("\n").map((l) => l.split(" ")[0]).filter(Boolean)).toEqual(["0", "1", "2", "5"]);
    });

    test("the caller's descriptors 3..9 are not open in the command", async () => {
      const r = await withLeakedDirs(args(PROBE, "fds"));
      expect(r.stdout.split("\n").map((l) => l.split(" ")[0]).filter(Boolean)).toEqual(["0", "1", "2"]);
    });

    test("CVE-2024-21626: --cwd /proc/self/fd/N (N = 3..20) never starts the command in a host directory", async () => {
      for (let n = 3; n <= 20; n++) {
        const r = await withLeakedDirs(args("--proc", "/proc", "--cwd", `/proc/self/fd/${n}`, "sh", "-c", "ls -a . .. ../.. ../../.. 2>&1"));
        expect(`${n}: ${r.stdout}`).not.toContain(SECRET);
        // Either a setup failure (the directory does not exist inside) or a cwd inside the root.
        expect(r.code === 125 || !/\b(usr|var|boot|home)\b/.test(r.stdout)).toBe(true);
      }
    });

    test("CVE-2024-21626: the command finds no host directory through /proc/self/fd or /proc/<parent>/fd", async () => {
      const r = await withLeakedDirs(args("--proc", "/proc", "sh", "-c", "for d in /proc/self/fd/* /proc/$PPID/fd/* /proc/$PPID/cwd /proc/$PPID/root; do ls -a $d/ 2>/dev/null; done"));
      expect(r.stdout).not.toContain(SECRET);
    });

    test("CVE-2019-5736: the runtime cannot be reopened through /proc/<pid>/exe of the command's parent", async () => {
      // A copy of the executable: even a broken sandbox could only touch the copy.
      const copy = join(setting.scratch, "sandboxlib-copy");
      copyFileSync(BIN, copy);
      const proc = Bun.spawn([copy, ...args("--proc", "/proc", "sh", "-c", `${PROBE} openw /proc/$PPID/exe; ${PROBE} openr /proc/$PPID/exe; ${PROBE} openw /proc/1/exe`)], { stdout: "pipe", stderr: "pipe" });
      const out = await new Response(proc.stdout).text();
      await proc.exited;
      expect(out.trim().split("\n")).toEqual([expect.stringMatching(/^(EACCES|EPERM|ETXTBSY)$/), expect.stringMatching(/^(EACCES|EPERM)$/), expect.stringMatching(/^(EACCES|EPERM|ETXTBSY)$/)]);
    });
  });
}
