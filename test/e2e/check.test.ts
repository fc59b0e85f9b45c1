// `sandboxlib check` on this machine, and what a user who is not root sees.
import { describe, expect, test } from "bun:test";
import { BIN, runCli } from "../helpers/cli.ts";
import { hostMountinfo, isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("check.test.ts");

const asNobody = (args: string[]) => {
  const r = Bun.spawnSync(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", BIN, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
};

describe.skipIf(!isRoot)("check", () => {
  test("as root here: every namespace, pivot_root, seccomp; the default backend can run (exit 0)", async () => {
    const before = hostMountinfo();
    const r = await runCli(["check", "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(report.default_backend).toBe("linux");
    const byName = Object.fromEntries(report.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok]));
    for (const name of ["root", "mount namespace", "PID namespace", "IPC namespace", "UTS namespace", "network namespace", "pivot_root", "openat2 + mount_setattr", "seccomp", "backend linux", "backend chroot"]) {
      expect([name, byName[name]]).toEqual([name, true]);
    }
    expect(byName["cgroup v1"] || byName["cgroup v2"]).toBe(true);
    expect(hostMountinfo()).toBe(before);
  });

  test("the human table says the same", async () => {
    const r = await runCli(["check"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok {2}pivot_root +yes$/m);
    expect(r.stdout).toContain("the default backend (linux) can run here");
  });

  test("not root: says why, exits 1; run refuses with 125", () => {
    const check = asNobody(["check"]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain("no  root");
    expect(check.stdout).toContain("no backend can run here");
    expect(asNobody(["run", "true"])).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: must run as root (effective uid 65534)\n" });
  });

  test("unknown options are usage errors", async () => {
    expect(await runCli(["check", "--frob"])).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: unknown option: --frob\n" });
  });
});
