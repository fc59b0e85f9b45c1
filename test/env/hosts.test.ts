// Build hosts: a plain chroot whose "/" is no mount point, a read-only
// /tmp without TMPDIR, read-only cgroups. The linux backend runs in each.
import { describe, expect, test } from "bun:test";
import { environmentSuite } from "../helpers/env-suite.ts";
import { cgroupsReadOnly, chrootHost, combine, makeChrootHost, removeChrootHost, runIn, tmpReadOnly } from "../helpers/environments.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("hosts.test.ts");

const everything = { backend: "linux", warning: null, mounts: true, isolatedNetwork: true, allCapabilities: true } as const;

describe("a plain chroot build host (its / is no mount point)", () => {
  let dir = "";
  environmentSuite(
    () => chrootHost((dir = makeChrootHost())),
    everything,
    () => removeChrootHost(dir),
  );

  test.skipIf(!isRoot)("the sandbox sees only its own mounts: the host's root is detached", async () => {
    const host = makeChrootHost();
    try {
      // The root "/" is bound with what is mounted under it: the chroot's
      // /proc, then the sandbox's own on top. Nothing of the host beyond.
      const r = await runIn(chrootHost(host), ["run", "--proc", "/proc", "--", "sh", "-c", "cut -d' ' -f5 /proc/self/mountinfo; ls /.. | grep -c sandboxlib"]);
      // (The masks and read-only binds inside the sandbox's /proc are its own.)
      expect([r.code, r.stdout.split("\n").filter((l) => l && !l.startsWith("/proc/"))]).toEqual([0, ["/", "/proc", "/proc", "1"]]);
    } finally {
      removeChrootHost(host);
    }
  });
});

describe("a read-only /tmp, no TMPDIR", () => {
  environmentSuite(tmpReadOnly, { ...everything, writableTmp: false });

  test.skipIf(!isRoot)("--keep-root on the read-only /tmp: one line naming it and why, nothing left", async () => {
    const made = (await import("../helpers/rootfs.ts")).makeRootfs();
    Bun.spawnSync(["tar", "-C", made, "-cf", `${made}.tar`, "."]);
    try {
      const r = await runIn(tmpReadOnly(), ["run", "--root", `${made}.tar`, "--keep-root", "/tmp/kept-root", "true"]);
      expect(r).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: cannot unpack into --keep-root /tmp/kept-root: /tmp: read-only file system\n" });
    } finally {
      Bun.spawnSync(["rm", "-rf", made, `${made}.tar`]);
    }
  });
});

describe("read-only cgroups (as in a container), everything else as on the host", () => {
  environmentSuite(cgroupsReadOnly, everything);
});

describe("read-only /tmp and /var/tmp, the image in a read-only directory", () => {
  test.skipIf(!isRoot)("one line naming every place tried; SANDBOXLIB_TMPDIR is used when set", async () => {
    const env = combine("nowhere", tmpReadOnly(), { name: "", setup: ["mount --bind /var/tmp /var/tmp && mount -o remount,bind,ro /var/tmp || exit 91"], wrappers: [], chrootDir: null, unset: [] });
    const made = (await import("../helpers/rootfs.ts")).makeRootfs();
    const tarball = `${made}.tar`;
    Bun.spawnSync(["tar", "-C", made, "-cf", tarball, "."]);
    try {
      const r = await runIn(env, ["run", "--root", tarball, "true"], { env: { TMPDIR: "/nonexistent" } });
      expect(r.code).toBe(125);
      // The image's own directory is /tmp again: named once.
      expect(r.stderr).toBe(
        `sandboxlib: cannot unpack ${tarball.split("/").at(-1)}: no writable directory for it: TMPDIR=/nonexistent (does not exist), /tmp (read-only file system), /var/tmp (read-only file system); set SANDBOXLIB_TMPDIR to a writable directory, or unpack once with --keep-root DIR\n`,
      );
      const ok = await runIn(env, ["run", "--root", tarball, "--", "cat", "/data/1/canary"], { env: { SANDBOXLIB_TMPDIR: "/dev/shm" } });
      expect([ok.code, ok.stdout, ok.stderr]).toEqual([0, "Please don't overwrite me.", ""]);
    } finally {
      Bun.spawnSync(["rm", "-rf", made, tarball]);
    }
  });
});
