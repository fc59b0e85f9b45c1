// Attack: host disks through device nodes (issue 13 item 2, contract C2).
// With CAP_MKNOD, no device cgroup and mounts that allow devices, root
// inside makes `b 7 0` (a loop device) or the host disk's numbers and reads
// and writes it. Nodes made here are only opened read-only (no I/O) and are
// character devices 1,3 (/dev/null) wherever opening one must be refused;
// the one block node (7,0) is never opened with a byte read or written.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type AttackSetting, attackSetting, BACKENDS, PROBE, probeIn, runnerFor } from "../helpers/attack.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/devices.test.ts");

let setting: AttackSetting;
beforeAll(() => {
  if (!isRoot) return;
  setting = attackSetting("dev");
  mkdirSync(join(setting.scratch, "bound"));
});
afterAll(() => setting?.dispose());

/** Removes nodes a test made in the root or the bound directory (they exist when an attack worked). */
function removeNodes(): void {
  for (const p of ["node", "tmp/node", "bound/node"]) rmSync(join(setting.root, p), { force: true });
  rmSync(join(setting.scratch, "bound/node"), { force: true });
}

/** Capabilities by number, as in linux/capability.h. */
const CAP = { CHOWN: 0, DAC_OVERRIDE: 1, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8, NET_BIND_SERVICE: 10, NET_RAW: 13, SYS_CHROOT: 18, MKNOD: 27, AUDIT_WRITE: 29, SETFCAP: 31 };
const mask = (names: (keyof typeof CAP)[]) => names.reduce((m, n) => m | (1n << BigInt(CAP[n])), 0n).toString(16).padStart(16, "0");
const DOCKER_MINUS_MKNOD: (keyof typeof CAP)[] = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "AUDIT_WRITE", "SETFCAP"];

for (const backend of BACKENDS) {
  const run = (args: string[]) => runnerFor(backend, setting.root)(args);
  const bind = () => ["--bind", `${join(setting.scratch, "bound")}:/bound`];
  // The chroot backend's root is a mount of the sandbox (bound nodev,nosuid)
  // only in its mount namespace, which it has when any mount is asked for;
  // without one its root is the host's directory as it is (docs/security.md).
  const ns = backend === "chroot" ? ["--tmpfs", "/var/ns"] : [];

  describe.skipIf(!isRoot)(`${backend}: device nodes (C2)`, () => {
    test(`the capability set is Docker's minus MKNOD${backend === "chroot" ? " and SYS_CHROOT" : ""}`, async () => {
      const expected = mask(DOCKER_MINUS_MKNOD.filter((c) => backend === "linux" || c !== "SYS_CHROOT"));
      const r = await run(["--proc", "/proc", "sh", "-c", "grep -E '^Cap(Prm|Eff|Bnd):' /proc/self/status | tr -s '\\t' ' '"]);
      expect(r.stdout).toBe(`CapPrm: ${expected}\nCapEff: ${expected}\nCapBnd: ${expected}\n`);
    });

    test("mknod of a block device (7,0: a loop device) is refused with EPERM", async () => {
      try {
        expect(await probeIn(run, [], "mknod", "/tmp/node", "b", "7", "0")).toBe("EPERM");
      } finally {
        removeNodes();
      }
    });

    test("mknod of a character device is refused with EPERM, on the root and on a tmpfs", async () => {
      try {
        expect(await probeIn(run, [], "mknod", "/node", "c", "1", "3")).toBe("EPERM");
        expect(await probeIn(run, ["--tmpfs", "/tmp"], "mknod", "/tmp/node", "c", "1", "3")).toBe("EPERM");
      } finally {
        removeNodes();
      }
    });

    test("with --cap-add MKNOD, a node made on the root (chroot: with a mount namespace), a --tmpfs, a --bind or a --mount tmpfs cannot be opened (nodev)", async () => {
      const places: [string, string[]][] = [
        ["/node", ns],
        ["/tmp/node", ["--tmpfs", "/tmp"]],
        ["/bound/node", bind()],
        ["/t/node", ["--mount", "none:/t:tmpfs"]],
      ];
      try {
        for (const [path, options] of places) {
          const r = await run(["--cap-add", "MKNOD", ...options, "sh", "-c", `${PROBE} mknod ${path} c 1 3 && ${PROBE} openr ${path}`]);
          expect(`${path}: ${r.stdout.trim().replace("\n", " ")}`).toBe(`${path}: ok EACCES`);
          removeNodes();
        }
      } finally {
        removeNodes();
      }
    });

    test("with --cap-add MKNOD, a block node for a loop device made on the root (chroot: with a mount namespace) cannot be opened", async () => {
      try {
        const r = await run(["--cap-add", "MKNOD", ...ns, "sh", "-c", `${PROBE} mknod /node b 7 0 && ${PROBE} openr /node`]);
        expect(r.stdout).toBe("ok\nEACCES\n");
      } finally {
        removeNodes();
      }
    });

    test("a device node already in the root (an image may carry one; chroot: with a mount namespace) cannot be opened", async () => {
      const node = join(setting.root, "node");
      try {
        expect(Bun.spawnSync(["mknod", node, "c", "1", "3"]).exitCode).toBe(0);
        expect(await probeIn(run, ns, "openr", "/node")).toBe("EACCES");
      } finally {
        removeNodes();
      }
    });

    test("a devtmpfs given with --mount is nodev: its nodes cannot be opened", async () => {
      expect(await probeIn(run, ["--mount", "none:/hostdev:devtmpfs"], "openr", "/hostdev/null")).toBe("EACCES");
    });

    test("the root, binds, tmpfs, proc and --dev are all nosuid", async () => {
      const r = await run(["--tmpfs", "/tmp", ...bind(), "--mount", "none:/t:tmpfs", "--proc", "/proc", "--dev", "/dev", "sh", "-c",
        ["/", "/tmp", "/bound", "/t", "/proc", "/dev"].map((p) => `echo ${p} $(${PROBE} flags ${p} | cut -d' ' -f2)`).join("; ")]);
      expect(r.stdout).toBe("/ nosuid\n/tmp nosuid\n/bound nosuid\n/t nosuid\n/proc nosuid\n/dev nosuid\n");
    });

    test("control: a --mount whose options say dev keeps devices (the user's explicit choice)", async () => {
      const r = await run(["--cap-add", "MKNOD", "--mount", "none:/t:tmpfs:dev", "sh", "-c", `${PROBE} mknod /t/node c 1 3 && ${PROBE} openr /t/node`]);
      expect(r.stdout).toBe("ok\nok\n");
    });

    test("control: sandboxlib's own --dev keeps working (/dev/null is a usable device)", async () => {
      expect((await run(["--dev", "/dev", "sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c"])).stdout).toBe("4\n");
    });
  });
}
