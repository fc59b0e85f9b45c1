// cgroups.ts against the recording fake host (test/helpers/fake-host.ts):
// v1 and v2 trees served from memory, so both are tested without root and
// whatever the host mounts (this host has v1; v2 has never run here).
import { describe, expect, test } from "bun:test";
import { SandboxError } from "../../src/base/errors.ts";
import type { CgroupLimits } from "../../src/config/types.ts";
import { createCgroup, plannedProcsFiles, type SandboxCgroup } from "../../src/supervise/cgroups.ts";
import { FakeHost } from "../helpers/fake-host.ts";

const CG = "/sys/fs/cgroup";
const MiB = 1024 * 1024;
const limits = (l: Partial<CgroupLimits>): CgroupLimits => ({ memory: null, pids: null, cpus: null, ...l });
const REMEDY = "give the container writable cgroups (docker run --cgroupns=private, or --privileged), or drop";

/** A v2 host: the controllers listed at the root; a new group gets its control files. */
function v2Host(controllers = "cpuset cpu io memory pids"): FakeHost {
  const h = new FakeHost({ [`${CG}/cgroup.controllers`]: `${controllers}\n`, [`${CG}/cgroup.subtree_control`]: "", [`${CG}/cgroup.procs`]: "1\n" });
  h.onMkdir = (dir) => {
    if (!dir.startsWith(`${CG}/`)) return;
    for (const f of ["cgroup.procs", "cgroup.subtree_control", "pids.max", "memory.max", "memory.swap.max", "memory.events", "cpu.max"]) h.files.set(`${dir}/${f}`, "");
    h.files.set(`${dir}/memory.current`, "0\n");
  };
  return h;
}

/** A v1 host: one hierarchy per controller. */
function v1Host(hierarchies = ["memory", "pids", "cpu"], swapAccounting = true): FakeHost {
  const h = new FakeHost(Object.fromEntries(hierarchies.map((c) => [`${CG}/${c}/cgroup.procs`, "1\n"])));
  const files: Record<string, string[]> = {
    memory: ["memory.limit_in_bytes", ...(swapAccounting ? ["memory.memsw.limit_in_bytes"] : []), "memory.oom_control", "memory.max_usage_in_bytes"],
    pids: ["pids.max"],
    cpu: ["cpu.cfs_period_us", "cpu.cfs_quota_us"],
  };
  h.onMkdir = (dir) => {
    const c = dir.split("/")[4]!;
    if (dir.split("/").length < 6) return;
    h.files.set(`${dir}/cgroup.procs`, "");
    for (const f of files[c] ?? []) h.files.set(`${dir}/${f}`, "");
  };
  return h;
}

/** The group's name (pid-counter) from its first cgroup.procs path. */
const nameOf = (cg: SandboxCgroup) => cg.procsFiles[0]!.split("/").at(-2)!;

function refusal(run: () => unknown): SandboxError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(SandboxError);
    return e as SandboxError;
  }
  throw new Error("not refused");
}

describe("cgroup v2 (fake host)", () => {
  test("create: controllers enabled down the tree, one group, the pids limit before the spawn and nothing else", () => {
    const h = v2Host();
    const cg = createCgroup(limits({ memory: 64 * MiB, pids: 50, cpus: 1.5 }), false, h)!;
    const name = nameOf(cg);
    expect(name).toMatch(/^4242-\d+$/);
    const dir = `${CG}/sandboxlib/${name}`;
    expect(cg.version).toBe(2);
    expect(cg.procsFiles).toEqual([`${dir}/cgroup.procs`]);
    expect(h.calls).toEqual([
      `write ${CG}/cgroup.subtree_control +memory +pids +cpu`,
      `mkdir ${CG}/sandboxlib`,
      `write ${CG}/sandboxlib/cgroup.subtree_control +memory +pids +cpu`,
      `mkdir ${dir}`,
      `write ${dir}/pids.max 50`,
    ]);
  });

  test("the memory and CPU limits are written after the exec, swap first", () => {
    const h = v2Host();
    const cg = createCgroup(limits({ memory: 64 * MiB, cpus: 1.5 }), false, h)!;
    const dir = `${CG}/sandboxlib/${nameOf(cg)}`;
    h.calls.length = 0;
    expect(cg.limitAfterExec()).toBe("set");
    expect(h.calls).toEqual([`write ${dir}/memory.swap.max 0`, `write ${dir}/memory.max ${64 * MiB}`, `write ${dir}/cpu.max 150000 100000`]);
  });

  test("a sandbox already above its memory limit at the exec: over, no limit written (v2 would OOM-kill at once)", () => {
    const h = v2Host();
    const cg = createCgroup(limits({ memory: 64 * MiB }), false, h)!;
    h.files.set(`${CG}/sandboxlib/${nameOf(cg)}/memory.current`, `${65 * MiB}\n`);
    h.calls.length = 0;
    expect(cg.limitAfterExec()).toBe("over");
    expect(h.calls).toEqual([]);
  });

  test("peak and OOM counters: memory.peak in KiB, oom_kill of memory.events; no memory.peak: no figure", () => {
    const h = v2Host();
    const cg = createCgroup(limits({ memory: 64 * MiB }), false, h)!;
    const dir = `${CG}/sandboxlib/${nameOf(cg)}`;
    h.files.set(`${dir}/memory.events`, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 3\noom_group_kill 0\n");
    h.files.set(`${dir}/memory.peak`, `${2 * MiB}\n`);
    expect(cg.oomKills()).toBe(3);
    expect(cg.peakMemoryKb()).toBe(2048);
    h.files.delete(`${dir}/memory.peak`); // kernels before 5.19
    expect(cg.peakMemoryKb()).toBeNull();
    h.files.set(`${dir}/memory.events`, "low 0\n");
    expect(cg.oomKills()).toBe(0);
  });

  test("read-only cgroups (a container's default): refused, naming the options, the place and the remedy", () => {
    const h = v2Host();
    h.fail("write", `${CG}/cgroup.subtree_control`, "EROFS");
    const e = refusal(() => createCgroup(limits({ memory: 64 * MiB, pids: 10 }), false, h));
    expect(e.message).toBe(`cannot apply --memory and --pids: cgroups are read-only at ${CG} (as in a container by default): ${REMEDY} --memory and --pids`);
    expect(e.exitCode).toBe(125);
  });

  test("a write refused after the group was made: permission denied, and the group is removed", () => {
    const h = v2Host();
    h.fail("write", `${CG}/sandboxlib/4242-*`, "EACCES");
    const e = refusal(() => createCgroup(limits({ pids: 10 }), false, h));
    expect(e.message).toBe(`cannot apply --pids: cgroups at ${CG} are not writable here (permission denied): ${REMEDY} --pids`);
    const made = h.calls.find((c) => c.startsWith(`mkdir ${CG}/sandboxlib/4242-`))!.slice("mkdir ".length);
    expect(h.calls.at(-1)).toBe(`rmdir ${made}`);
    expect(h.exists(made)).toBe(false);
  });

  test("a limit refused after the exec is worded the same way", () => {
    const h = v2Host();
    const cg = createCgroup(limits({ memory: 64 * MiB }), false, h)!;
    h.fail("write", `${CG}/sandboxlib/${nameOf(cg)}/memory.max`, "EROFS");
    expect(refusal(() => cg.limitAfterExec()).message).toBe(`cannot apply --memory: cgroups are read-only at ${CG} (as in a container by default): ${REMEDY} --memory`);
  });

  test("another failure names what was done and where", () => {
    const h = v2Host();
    const cg = createCgroup(limits({ cpus: 2 }), false, h)!;
    const file = `${CG}/sandboxlib/${nameOf(cg)}/cpu.max`;
    h.fail("write", file, "ENOSPC");
    expect(refusal(() => cg.limitAfterExec()).message).toBe(`cannot set the CPU limit: ${file}: ENOSPC: write '${file}'`);
  });

  test("a missing controller: refused before anything is made", () => {
    const h = v2Host("cpu io");
    expect(refusal(() => createCgroup(limits({ memory: 64 * MiB }), false, h)).message).toBe(
      "cannot apply --memory: cgroup v2 lacks the memory controller: run where cgroups are mounted, or drop --memory",
    );
    expect(h.calls).toEqual([]);
  });

  test("measuring only is best effort: read-only cgroups give no group and no error", () => {
    const h = v2Host();
    h.fail("write", `${CG}/cgroup.subtree_control`, "EROFS");
    expect(createCgroup(limits({}), true, h)).toBeNull();
    const ok = v2Host();
    const cg = createCgroup(limits({}), true, ok)!;
    expect(ok.calls[0]).toBe(`write ${CG}/cgroup.subtree_control +memory`);
    expect(cg.procsFiles).toHaveLength(1);
    expect(createCgroup(limits({}), false, ok)).toBeNull();
  });

  test("removal: every member SIGKILLed, again until none is left, then the group goes", async () => {
    const h = v2Host();
    const cg = createCgroup(limits({ pids: 10 }), false, h)!;
    const dir = `${CG}/sandboxlib/${nameOf(cg)}`;
    h.files.set(`${dir}/cgroup.procs`, "101\n102\n");
    h.alive.add(101).add(102);
    h.calls.length = 0;
    await cg.remove();
    expect(h.calls).toEqual(["kill 101 9", "kill 102 9", "sleep 5", `rmdir ${dir}`]);
    expect(h.exists(dir)).toBe(false);
  });

  test("removal of a group that will not empty gives up after 200 tries, without an error", async () => {
    const h = v2Host();
    const cg = createCgroup(limits({ pids: 10 }), false, h)!;
    const dir = `${CG}/sandboxlib/${nameOf(cg)}`;
    h.files.set(`${dir}/cgroup.procs`, "777\n"); // never dies (not in `alive`)
    h.calls.length = 0;
    await cg.remove();
    expect(h.calls.filter((c) => c === "sleep 5")).toHaveLength(200);
    expect(h.calls.at(-1)).toBe(`rmdir ${dir}`);
    expect(h.exists(dir)).toBe(true);
  });

  test("stale sweep: groups of dead sandboxlib processes go; its own, live ones, busy ones and others stay", () => {
    const h = v2Host();
    for (const name of ["999-1", "555-2", "4242-99", "888-1", "keep"]) h.addDir(`${CG}/sandboxlib/${name}`);
    h.files.set(`${CG}/sandboxlib/888-1/cgroup.procs`, "31337\n");
    h.alive.add(555);
    createCgroup(limits({ pids: 10 }), false, h);
    const swept = h.calls.filter((c) => c.startsWith("rmdir"));
    expect(swept).toEqual([`rmdir ${CG}/sandboxlib/888-1`, `rmdir ${CG}/sandboxlib/999-1`]);
    expect(h.list(`${CG}/sandboxlib`).filter((n) => !n.startsWith("4242-") || n === "4242-99")).toEqual(["4242-99", "555-2", "888-1", "cgroup.subtree_control", "keep"]);
  });

  test("--print-plan's files: where the next group would be, nothing made", () => {
    const h = v2Host();
    const [file] = plannedProcsFiles(limits({ memory: 64 * MiB }), false, h);
    const cg = createCgroup(limits({ memory: 64 * MiB }), false, h)!;
    expect(cg.procsFiles).toEqual([file!]);
    const again = v2Host();
    plannedProcsFiles(limits({ memory: 64 * MiB }), false, again);
    expect(again.calls).toEqual([]);
  });
});

describe("cgroup v1 (fake host)", () => {
  test("create: one group per controller hierarchy, the pids limit before the spawn", () => {
    const h = v1Host();
    const cg = createCgroup(limits({ memory: 64 * MiB, pids: 50, cpus: 0.5 }), false, h)!;
    const name = nameOf(cg);
    expect(cg.version).toBe(1);
    expect(cg.procsFiles).toEqual(["memory", "pids", "cpu"].map((c) => `${CG}/${c}/sandboxlib/${name}/cgroup.procs`));
    expect(h.calls).toEqual([`mkdir ${CG}/memory/sandboxlib/${name}`, `mkdir ${CG}/pids/sandboxlib/${name}`, `mkdir ${CG}/cpu/sandboxlib/${name}`, `write ${CG}/pids/sandboxlib/${name}/pids.max 50`]);
  });

  test("after the exec: memory before memory+swap, CPU period before quota", () => {
    const h = v1Host();
    const cg = createCgroup(limits({ memory: 64 * MiB, cpus: 0.5 }), false, h)!;
    const name = nameOf(cg);
    h.calls.length = 0;
    expect(cg.limitAfterExec()).toBe("set");
    expect(h.calls).toEqual([
      `write ${CG}/memory/sandboxlib/${name}/memory.limit_in_bytes ${64 * MiB}`,
      `write ${CG}/memory/sandboxlib/${name}/memory.memsw.limit_in_bytes ${64 * MiB}`,
      `write ${CG}/cpu/sandboxlib/${name}/cpu.cfs_period_us 100000`,
      `write ${CG}/cpu/sandboxlib/${name}/cpu.cfs_quota_us 50000`,
    ]);
  });

  test("without swap accounting there is no memsw limit to write", () => {
    const h = v1Host(["memory"], false);
    const cg = createCgroup(limits({ memory: 64 * MiB }), false, h)!;
    h.calls.length = 0;
    cg.limitAfterExec();
    expect(h.calls).toEqual([`write ${CG}/memory/sandboxlib/${nameOf(cg)}/memory.limit_in_bytes ${64 * MiB}`]);
  });

  test("usage already above the limit: the kernel refuses it (EBUSY), and that is over", () => {
    const h = v1Host();
    const cg = createCgroup(limits({ memory: 64 * MiB, cpus: 1 }), false, h)!;
    h.fail("write", `${CG}/memory/sandboxlib/${nameOf(cg)}/memory.limit_in_bytes`, "EBUSY");
    h.calls.length = 0;
    expect(cg.limitAfterExec()).toBe("over");
    expect(h.calls).toHaveLength(1);
  });

  test("counters: oom_kill of memory.oom_control, peak from memory.max_usage_in_bytes", () => {
    const h = v1Host();
    const cg = createCgroup(limits({ memory: 64 * MiB }), false, h)!;
    const dir = `${CG}/memory/sandboxlib/${nameOf(cg)}`;
    h.files.set(`${dir}/memory.oom_control`, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    h.files.set(`${dir}/memory.max_usage_in_bytes`, `${3 * MiB}\n`);
    expect(cg.oomKills()).toBe(2);
    expect(cg.peakMemoryKb()).toBe(3072);
    const pidsOnly = createCgroup(limits({ pids: 5 }), false, h)!;
    expect(pidsOnly.oomKills()).toBe(0);
    expect(pidsOnly.peakMemoryKb()).toBeNull();
  });

  test("read-only: refused naming the hierarchy; groups made before the failure are removed, newest first", () => {
    const h = v1Host();
    h.fail("mkdir", `${CG}/cpu/sandboxlib/*`, "EROFS");
    const e = refusal(() => createCgroup(limits({ memory: 64 * MiB, pids: 5, cpus: 1 }), false, h));
    expect(e.message).toBe(`cannot apply --memory, --pids and --cpus: cgroups are read-only at ${CG}/cpu (as in a container by default): ${REMEDY} --memory, --pids and --cpus`);
    const made = h.calls.filter((c) => c.startsWith("mkdir")).map((c) => c.slice(6));
    expect(h.calls.filter((c) => c.startsWith("rmdir"))).toEqual([`rmdir ${made[1]}`, `rmdir ${made[0]}`]);
  });

  test("a missing hierarchy: refused before anything is made", () => {
    const h = v1Host(["memory", "cpu"]);
    expect(refusal(() => createCgroup(limits({ pids: 5 }), false, h)).message).toBe(
      `cannot apply --pids: no cgroup hierarchy for pids under ${CG}: run where cgroups are mounted, or drop --pids`,
    );
    expect(h.calls).toEqual([]);
  });

  test("removal and killAll cover every hierarchy's group, in the order made", async () => {
    const h = v1Host();
    const cg = createCgroup(limits({ memory: 64 * MiB, pids: 5 }), false, h)!;
    const name = nameOf(cg);
    h.files.set(`${CG}/memory/sandboxlib/${name}/cgroup.procs`, "201\n");
    h.files.set(`${CG}/pids/sandboxlib/${name}/cgroup.procs`, "201\n");
    h.alive.add(201);
    h.calls.length = 0;
    cg.killAll();
    expect(h.calls).toEqual(["kill 201 9"]);
    h.calls.length = 0;
    await cg.remove();
    expect(h.calls).toEqual([`rmdir ${CG}/memory/sandboxlib/${name}`, `rmdir ${CG}/pids/sandboxlib/${name}`]);
  });

  test("measuring only: a memory group alone", () => {
    const h = v1Host();
    const cg = createCgroup(limits({}), true, h)!;
    expect(cg.procsFiles).toEqual([`${CG}/memory/sandboxlib/${nameOf(cg)}/cgroup.procs`]);
  });
});
