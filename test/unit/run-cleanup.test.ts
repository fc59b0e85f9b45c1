// The cleanup of a run, path by path, in order: runPlanned with the fake
// host (cgroups, journal, kill) and a fake spawn and wait. No root: nothing
// is spawned, the cgroup tree is v2 and served from memory.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SandboxError } from "../../src/base/errors.ts";
import { toSandboxConfig } from "../../src/config/options.ts";
import type { SandboxOptions } from "../../src/config/options.ts";
import type { SpawnedSandbox } from "../../src/native/spawn.ts";
import { planLinux } from "../../src/plan/linux-plan.ts";
import type { Step } from "../../src/plan/steps.ts";
import { type RunDeps, runPlanned } from "../../src/supervise/run.ts";
import { FakeHost } from "../helpers/fake-host.ts";

const CG = "/sys/fs/cgroup";
const STATE = "/run/sandboxlib";
const root = realpathSync(mkdtempSync(join(tmpdir(), "sandboxlib-run-cleanup-")));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const backend = { plan: (input: Parameters<typeof planLinux>[0]) => planLinux(input, { loopback: false }) };
const options: SandboxOptions = { filesystemRoot: root, stdin: null, stdout: null, stderr: null, pids: 10, extraMounts: [["none", "/new", "tmpfs"]] };

interface Script {
  spawnError?: number;
  failure?: (child: Step[]) => { index: number; errno: number } | null;
  status?: number;
}

/** A v2 host with the root, and deps whose spawn, wait and host steps are recorded on the same list. */
function rig(script: Script = {}): { h: FakeHost; deps: RunDeps } {
  const h = new FakeHost({ [`${CG}/cgroup.controllers`]: "cpu memory pids\n", [`${CG}/cgroup.subtree_control`]: "", [root]: null, "/run": null });
  h.onMkdir = (dir) => {
    if (dir.startsWith(`${CG}/`)) for (const f of ["cgroup.procs", "cgroup.subtree_control", "pids.max", "memory.max", "memory.current", "cpu.max"]) h.files.set(`${dir}/${f}`, "");
  };
  const deps: RunDeps = {
    host: h,
    stateDir: STATE,
    spawn(child) {
      h.calls.push("spawn");
      if (script.spawnError) throw Object.assign(new Error("clone"), { errno: script.spawnError });
      h.alive.add(5000);
      const sandbox: SpawnedSandbox = {
        pid: 5000,
        commandPid: 3,
        sessionPid: 2,
        failure: script.failure?.(child) ?? null,
        commandStatus: () => script.status ?? 0,
        commandUsage: () => ({ userUs: 0, sysUs: 0, maxRssKb: 0 }),
        // Each mkdirs step made every component of its path.
        outs: () => child.map((s) => (s.op === "mkdirs" ? s.path.split("/").length : 0)),
        release: () => h.calls.push("release"),
      };
      return sandbox;
    },
    async waitForExit(pid) {
      h.calls.push(`reaped ${pid}`);
      return { status: (script.status ?? 0) << 8, userUs: 0, sysUs: 0, maxRssKb: 0 };
    },
    runHostSteps(steps) {
      h.calls.push(`host steps: ${steps.map((s) => (s.op === "rmdirs" ? `rmdirs ${s.path}` : s.op)).join(", ")}`);
    },
  };
  return { h, deps };
}

/** The calls from the spawn on, with the run's cgroup and journal names made generic. */
function after(h: FakeHost, from: string): string[] {
  const calls = h.calls.map((c) => c.replace(/sandboxlib\/4242-\d+/g, "sandboxlib/GROUP").replace(/\/run\/sandboxlib\/\S+\.created/g, "JOURNAL"));
  const i = calls.indexOf(from);
  return calls.slice(i < 0 ? 0 : i);
}

async function failure(run: Promise<unknown>): Promise<SandboxError> {
  try {
    await run;
  } catch (e) {
    return e as SandboxError;
  }
  throw new Error("did not fail");
}

describe("a run's cleanup, in order (fake host, fake spawn)", () => {
  test("a run that went well: reaped, stack released, cgroup emptied and removed, then the mount points it made, under the root's lock", async () => {
    const { h, deps } = rig();
    const result = await runPlanned(toSandboxConfig(["true"], options), backend, {}, deps);
    expect(result.exitCode).toBe(0);
    expect(after(h, "spawn")).toEqual([
      "spawn",
      `mkdir ${STATE} 0700`,
      "append JOURNAL 0600", // settled: what it made
      "reaped 5000",
      "release",
      `rmdir ${CG}/sandboxlib/GROUP`,
      "flock 10 LOCK_UN",
      "flock 10 LOCK_EX|LOCK_NB",
      "host steps: open-root, rmdirs new, close-root",
      "remove JOURNAL",
      "close 10",
    ]);
  });

  test("before the spawn: the cgroup is made, the pids limit set and the intents journalled, in that order", async () => {
    const { h, deps } = rig();
    await runPlanned(toSandboxConfig(["true"], options), backend, {}, deps);
    expect(after(h, "").slice(0, after(h, "").indexOf("spawn"))).toEqual([
      `write ${CG}/cgroup.subtree_control +pids`,
      `mkdir ${CG}/sandboxlib`,
      `write ${CG}/sandboxlib/cgroup.subtree_control +pids`,
      `mkdir ${CG}/sandboxlib/GROUP`,
      `write ${CG}/sandboxlib/GROUP/pids.max 10`,
      `open ${root} = 10`,
      "flock 10 LOCK_SH",
      `mkdir ${STATE} 0700`,
      "append JOURNAL 0600",
    ]);
  });

  test("the spawn fails: the intended mount points are cleared first, then the cgroup; the error names the clone", async () => {
    const { h, deps } = rig({ spawnError: 11 });
    const e = await failure(runPlanned(toSandboxConfig(["true"], options), backend, {}, deps));
    expect(e.message).toBe("cannot create the sandbox process: Resource temporarily unavailable");
    expect(after(h, "spawn")).toEqual([
      "spawn",
      "flock 10 LOCK_UN",
      "flock 10 LOCK_EX|LOCK_NB",
      "host steps: open-root, rmdirs new, close-root",
      "remove JOURNAL",
      "close 10",
      `rmdir ${CG}/sandboxlib/GROUP`,
    ]);
  });

  test("a step fails in the sandbox: reported as that step, cleaned up as a run that went well", async () => {
    const { h, deps } = rig({ failure: (child) => ({ index: child.findIndex((s) => s.op === "mount" && s.fstype === "tmpfs"), errno: 1 }) });
    const e = await failure(runPlanned(toSandboxConfig(["true"], options), backend, {}, deps));
    expect(e.message).toBe("cannot mount tmpfs on /new: Operation not permitted");
    expect(after(h, "reaped 5000")).toEqual([
      "reaped 5000",
      "release",
      `rmdir ${CG}/sandboxlib/GROUP`,
      "flock 10 LOCK_UN",
      "flock 10 LOCK_EX|LOCK_NB",
      "host steps: open-root, rmdirs new, close-root",
      "remove JOURNAL",
      "close 10",
    ]);
  });

  test("a limit refused after the exec: the sandbox is killed at once, then reaped and cleaned up; the refusal is the error", async () => {
    const { h, deps } = rig();
    // Creation writes nothing in the group itself; the memory limit waits for the exec, where it is refused.
    h.fail("write", `${CG}/sandboxlib/4242-*`, "EROFS");
    const limited = { ...options, pids: null, memory: 64 * 1024 * 1024 };
    const e = await failure(runPlanned(toSandboxConfig(["true"], limited), backend, {}, deps));
    expect(e.message).toStartWith("cannot apply --memory: cgroups are read-only at /sys/fs/cgroup ");
    expect(after(h, "spawn").slice(0, 4)).toEqual(["spawn", "write /sys/fs/cgroup/sandboxlib/GROUP/memory.max 67108864", "kill 5000 9", `mkdir ${STATE} 0700`]);
    expect(after(h, "reaped 5000").slice(0, 3)).toEqual(["reaped 5000", "release", `rmdir ${CG}/sandboxlib/GROUP`]);
    expect(h.calls.at(-1)).toBe("close 10");
  });

  test("the journal cannot be written: nothing is spawned; the root's lock is let go and the cgroup removed", async () => {
    const { h, deps } = rig();
    h.fail("append", "/run/sandboxlib/*", "ENOSPC");
    const e = await failure(runPlanned(toSandboxConfig(["true"], options), backend, {}, deps));
    expect(e.exitCode).toBe(125);
    expect(e.message).toStartWith(`cannot record the mount points this run may create in the state directory ${STATE}: No space left on device`);
    expect(h.calls).not.toContain("spawn");
    expect(after(h, "append JOURNAL 0600")).toEqual(["append JOURNAL 0600", "flock 10 LOCK_UN", "close 10", `rmdir ${CG}/sandboxlib/GROUP`]);
  });

  test("the cgroup cannot be made: nothing else is done", async () => {
    const { h, deps } = rig();
    h.fail("write", `${CG}/cgroup.subtree_control`, "EROFS");
    const e = await failure(runPlanned(toSandboxConfig(["true"], options), backend, {}, deps));
    expect(e.message).toStartWith("cannot apply --pids: cgroups are read-only at /sys/fs/cgroup ");
    expect(h.calls).toEqual([`write ${CG}/cgroup.subtree_control +pids`]);
  });
});
