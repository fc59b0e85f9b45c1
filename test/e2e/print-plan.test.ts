// `sandboxlib run --print-plan`: the plan as JSON, exit 0, and nothing run
// or created: no mount point in the root, no output file, no journal, no cgroup.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";

const scratch = mkdtempSync(join(tmpdir(), "sandboxlib-print-plan-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const probe = `/sandboxlib-print-plan-${process.pid}`;
const stateDir = join(scratch, "state");
const outFile = join(scratch, "out");
const marker = join(scratch, "ran");
/** Where a memory cgroup would be made here, if anywhere. */
const cgroupParent = ["/sys/fs/cgroup/sandboxlib", "/sys/fs/cgroup/memory/sandboxlib"].find((d) => existsSync(d)) ?? null;
const listing = (dir: string | null) => (dir && existsSync(dir) ? readdirSync(dir).sort() : []);

interface Printed {
  backend: string;
  stdio: Record<string, unknown>;
  root: string;
  createsMountPoints: boolean;
  cloneFlags: string[];
  child: ({ op: string; what: string } & Record<string, unknown>)[];
}

describe("run --print-plan", () => {
  for (const backend of ["linux", "chroot"]) {
    test(`${backend}: prints the plan as JSON, exits 0, runs and creates nothing`, async () => {
      const before = listing(cgroupParent);
      const r = await runCli(
        ["run", "--print-plan", "--backend", backend, "--tmpfs", probe, "--stdout", outFile, "--stdin", "null", "--rlimit", "nofile=64", "--", "sh", "-c", `touch ${marker}`],
        { env: { SANDBOXLIB_STATE_DIR: stateDir } },
      );
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const plan = JSON.parse(r.stdout) as Printed;
      expect(plan.backend).toBe(backend);
      expect(plan.root).toBe("/");
      expect(plan.createsMountPoints).toBe(true);
      expect(plan.stdio).toEqual({ stdin: "null", stdout: { file: outFile }, stderr: "inherit" });
      expect(plan.cloneFlags).toContain("CLONE_NEWNS");
      if (backend === "linux") expect(plan.cloneFlags).toContain("CLONE_NEWPID");
      const ops = plan.child.map((s) => s.op);
      expect(ops.at(-1)).toBe("exec");
      expect(plan.child.at(-1)).toMatchObject({ op: "exec", what: "execute sh", argv: ["sh", "-c", `touch ${marker}`] });
      expect(plan.child.find((s) => s.op === "mkdirs")).toMatchObject({ path: probe.slice(1), mode: "0755" });
      expect(plan.child.find((s) => s.op === "mount" && s.fstype === "tmpfs")).toMatchObject({ target: probe.slice(1), flags: ["MS_NOSUID", "MS_NODEV"] });
      expect(plan.child.find((s) => s.op === "rlimit")).toMatchObject({ name: "nofile", soft: 64, hard: 64 });
      const seccomp = plan.child.find((s) => s.op === "seccomp")!;
      expect(seccomp.filterInstructions).toBeGreaterThan(10);
      expect(seccomp.filter).toBeUndefined();
      // Nothing was run or created.
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(probe)).toBe(false);
      expect(existsSync(outFile)).toBe(false);
      expect(existsSync(stateDir)).toBe(false);
      expect(listing(cgroupParent)).toEqual(before);
    });
  }

  test("with a cgroup limit, the plan opens the cgroup.procs files a run would make, and none is made", async () => {
    if (cgroupParent === null && !existsSync("/sys/fs/cgroup/cgroup.controllers")) return; // no cgroups here
    const before = listing(cgroupParent);
    const r = await runCli(["run", "--print-plan", "--pids", "50", "--", "true"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const plan = JSON.parse(r.stdout) as Printed;
    const opened = plan.child.filter((s) => s.op === "open-fd").map((s) => s.path as string);
    expect(opened.length).toBeGreaterThan(0);
    for (const path of opened) {
      expect(path).toMatch(/^\/sys\/fs\/cgroup\/(pids\/)?sandboxlib\/\d+-1\/cgroup\.procs$/);
      expect(existsSync(path)).toBe(false);
    }
    expect(listing(cgroupParent)).toEqual(before);
  });

  test("checked as a run is: bad settings, no command, an image root, a value given to the flag", async () => {
    expect(await runCli(["run", "--print-plan=yes", "--", "true"])).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: option takes no value: --print-plan\n" });
    const noCommand = await runCli(["run", "--print-plan"]);
    expect(noCommand.code).toBe(125);
    expect(noCommand.stdout).toBe("");
    const tarball = join(scratch, "root.tar");
    writeFileSync(tarball, "not a directory");
    expect(await runCli(["run", "--print-plan", "--root", tarball, "--", "true"])).toEqual({
      code: 125,
      stdout: "",
      stderr: `sandboxlib: --print-plan needs a directory as --root (an image or tarball is unpacked only by a run): ${tarball}\n`,
    });
    const missing = await runCli(["run", "--print-plan", "--bind", `${scratch}/nope:/x`, "--", "true"]);
    expect(missing).toEqual({ code: 125, stdout: "", stderr: `sandboxlib: bind source does not exist: ${scratch}/nope\n` });
  });

  test("--help tells of it", async () => {
    const r = await runCli(["run", "--help"]);
    expect(r.stdout).toContain("--print-plan");
  });
});
