// Plans are data: what each backend will do, checked without root.
import { describe, expect, test } from "bun:test";
import { planMount } from "../../src/config/resolve.ts";
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC } from "../../src/config/mount-options.ts";
import { CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS } from "../../src/base/kernel-constants.ts";
import { planChroot } from "../../src/plan/chroot-plan.ts";
import type { PlanInput } from "../../src/config/plan-input.ts";
import { planLinux } from "../../src/plan/linux-plan.ts";
import { extraMountSteps, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MKDIRS_UNREACHED_SHIFT, removableCreations } from "../../src/plan/mounts.ts";
import { posix } from "node:path";
import { absolutePath, inRootPath, isWithin } from "../../src/base/paths.ts";
import { describeStep, type Step } from "../../src/plan/steps.ts";
import { capabilityMask, DEFAULT_CAPABILITIES } from "../../src/hardening/capabilities.ts";
import { buildSeccompFilter, policiesFor, policyKey } from "../../src/hardening/seccomp.ts";

const base: PlanInput = {
  root: "/srv/root",
  rootReentry: "/srv/root",
  argv: ["make", "-j2"],
  env: ["PATH=/bin"],
  searchPath: "/bin",
  cwd: "/src",
  mounts: [],
  writable: "all",
  network: "undefined",
  hostname: null,
  stdio: [10, 11, 12],
  hardening: {
    newSession: true,
    passFds: [],
    rlimits: [],
    capabilities: DEFAULT_CAPABILITIES,
    uid: null,
    gid: null,
    seccomp: false,
    arch: "x64",
    processLimit: false,
  },
  cgroupProcs: [],
};

const proc = planMount({ source: null, target: "/proc", type: "proc", options: "" });
const tmpfs = planMount({ source: null, target: "/tmp/", type: "tmpfs", options: "size=1m" });
const run = planMount({ source: null, target: "/run", type: "tmpfs", options: "" });
const ops = (steps: Step[]) => steps.map((s) => s.op);

describe("paths in the root", () => {
  test("canonical form", () => {
    expect(inRootPath("/a//b/../c/")).toBe("a/c");
    expect(inRootPath("/")).toBe("");
    expect(inRootPath("../../etc")).toBe("etc");
    expect(inRootPath("x/./y")).toBe("x/y");
    expect(inRootPath("a/b/../../..")).toBe("");
    expect(inRootPath("...")).toBe("...");
  });

  test("absolutePath folds like path.posix.normalize of an absolute path", () => {
    for (const p of ["", "/", "a", "/a//b/../c/", "../x", "a/./b/.", "/..", "a/b/../../..", ".../..a/b..", "/usr/src/"]) {
      expect(absolutePath(p)).toBe(posix.normalize(`/${p}`).replace(/(.)\/$/, "$1"));
    }
  });

  test("isWithin", () => {
    expect(isWithin("a/b", "a")).toBe(true);
    expect(isWithin("a", "a")).toBe(true);
    expect(isWithin("ab", "a")).toBe(false);
    expect(isWithin("x", "")).toBe(true);
  });
});

describe("chroot plan", () => {
  test("no mounts: no namespace; the init forks, then the command chroots, chdirs, sheds and execs", () => {
    const plan = planChroot(base);
    expect(plan.cloneFlags).toBe(0);
    expect(ops(plan.child)).toEqual([
      "fork-command", "chroot", "chdir", "setsid", "dup2", "dup2", "dup2", "close-from", "capabilities", "capabilities", "no-new-privs", "exec",
    ]);
    expect(plan.child.slice(1, 3)).toEqual([
      { op: "chroot", path: "/srv/root" },
      { op: "chdir", path: "/src" },
    ]);
    expect(plan.child.slice(4, 7)).toEqual([
      { op: "dup2", from: 10, to: 0 },
      { op: "dup2", from: 11, to: 1 },
      { op: "dup2", from: 12, to: 2 },
    ]);
    expect(plan.child.at(-1)).toEqual({ op: "exec", file: "make", argv: ["make", "-j2"], env: ["PATH=/bin"], searchPath: "/bin", afterLauncher: false });
    expect(plan.createsMountPoints).toBe(false);
  });

  test("under a --pids limit the command execs only once its launcher is reaped (it counts until then)", () => {
    const limited = { ...base, hardening: { ...base.hardening, processLimit: true } };
    for (const plan of [planChroot(limited), planLinux(limited)]) expect(plan.child.at(-1)).toMatchObject({ op: "exec", afterLauncher: true });
    for (const plan of [planChroot(base), planLinux(base)]) expect(plan.child.at(-1)).toMatchObject({ op: "exec", afterLauncher: false });
  });

  test("root / is not chrooted into", () => {
    expect(ops(planChroot({ ...base, root: "/" }).child).slice(0, 2)).toEqual(["fork-command", "chdir"]);
  });

  test("the command keeps its capabilities but SYS_CHROOT", () => {
    const keep = capabilityMask(DEFAULT_CAPABILITIES.filter((c) => c !== "SYS_CHROOT"));
    const caps = planChroot(base).child.filter((s) => s.op === "capabilities");
    expect(caps).toEqual([
      { op: "capabilities", keep, setEffective: false },
      { op: "capabilities", keep, setEffective: true },
    ]);
    expect(keep & (1n << 18n)).toBe(0n);
    // The linux backend's command keeps it: a chroot there stays inside the sandbox.
    const linuxCaps = planLinux(base).child.find((s) => s.op === "capabilities");
    expect(linuxCaps).toMatchObject({ keep: capabilityMask(DEFAULT_CAPABILITIES) });
  });

  test("mounts: a mount namespace, / made private, the root bound nodev,nosuid, the mounts in it, all before the fork; no host steps", () => {
    const plan = planChroot({ ...base, mounts: [run, tmpfs] });
    expect(plan.cloneFlags).toBe(CLONE_NEWNS);
    expect(ops(plan.child).slice(0, 11)).toEqual([
      "private-root", "mount", "open-root", "setattr", "mkdirs", "mount", "mkdirs", "mount", "close-root", "fork-command", "chroot",
    ]);
    expect(plan.child[0]).toEqual({ op: "private-root" });
    expect(plan.child[1]).toEqual({ op: "mount", source: "/srv/root", target: "/srv/root", inRoot: false, sourceInRoot: false, fstype: null, flags: MS_BIND | MS_REC, data: null });
    expect(plan.child[2]).toEqual({ op: "open-root", path: base.rootReentry });
    expect(plan.child[3]).toEqual({ op: "setattr", path: "", set: MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, clear: 0, recursive: true });
    expect(plan.child[5]).toMatchObject({ op: "mount", target: "run", inRoot: true, fstype: "tmpfs" });
    expect(plan.child[7]).toMatchObject({ op: "mount", target: "tmp", inRoot: true, fstype: "tmpfs", data: "size=1m" });
    // The command enters the bind stacked on the root, not the host's directory under it.
    expect(plan.child[10]).toEqual({ op: "chroot", path: base.rootReentry });
    expect(plan.createsMountPoints).toBe(true);
  });

  test("without mounts: no namespace, the command chrooted into the root itself", () => {
    const plan = planChroot(base);
    expect(plan.cloneFlags).toBe(0);
    expect(plan.child.find((s) => s.op === "chroot")).toEqual({ op: "chroot", path: "/srv/root" });
  });

  test("cgroup files are opened first, by the init; only the command joins", () => {
    const plan = planChroot({ ...base, mounts: [tmpfs], cgroupProcs: ["/sys/fs/cgroup/x/cgroup.procs"] });
    expect(ops(plan.child).slice(0, 4)).toEqual(["open-fd", "private-root", "mount", "open-root"]);
    const fork = plan.child.findIndex((s) => s.op === "fork-command");
    expect(plan.child.findIndex((s) => s.op === "write-fd")).toBeGreaterThan(fork);
    expect(plan.child.find((s) => s.op === "write-fd")).toEqual({ op: "write-fd", openedBy: 0, content: "0" });
  });

  test("cleanup: nothing to unmount (the namespace goes with the sandbox); created mount points are removed", () => {
    const plan = planChroot({ ...base, mounts: [proc, tmpfs] });
    // /proc was created (one component), /tmp existed.
    const firstMkdirs = plan.child.findIndex((s) => s.op === "mkdirs");
    const outs = plan.child.map((s, i) => (s.op === "mkdirs" ? (i === firstMkdirs ? 1 : 0) : -1));
    expect(plan.cleanup(outs)).toEqual({ remove: [{ op: "rmdirs", path: "proc", count: 1, file: false }] });
  });
});

describe("linux plan", () => {
  test("namespaces; network only when isolated", () => {
    expect(planLinux(base).cloneFlags).toBe(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS);
    expect(planLinux({ ...base, network: "isolated" }).cloneFlags & CLONE_NEWNET).toBe(CLONE_NEWNET);
  });

  test("private /, root bound onto itself and made nodev,nosuid, pivot_root, init, then the command", () => {
    const plan = planLinux({ ...base, network: "isolated" });
    expect(ops(plan.child)).toEqual([
      "private-root", "mount", "open-root", "setattr", "close-root", "pivot-root", "sethostname", "loopback-up", "chdir",
      "fork-command", "setsid", "dup2", "dup2", "dup2", "close-from", "capabilities", "capabilities", "no-new-privs", "exec",
    ]);
    expect(plan.child[0]).toEqual({ op: "private-root" });
    expect(plan.child[1]).toMatchObject({ source: "/srv/root", target: "/srv/root", flags: MS_BIND | MS_REC });
    expect(plan.child[3]).toEqual({ op: "setattr", path: "", set: MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, clear: 0, recursive: true });
    expect(plan.child[6]).toEqual({ op: "sethostname", name: "sandbox" });
  });

  test("'none' makes the whole tree read-only, recursively", () => {
    const steps = planLinux({ ...base, writable: "none", mounts: [tmpfs] }).child;
    const i = steps.findIndex((s) => s.op === "setattr" && s.set === MOUNT_ATTR_RDONLY);
    expect(steps[i]).toEqual({ op: "setattr", path: "", set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true });
    // After the extra mounts, so they are covered too.
    expect(steps.findIndex((s) => s.op === "mount" && s.target === "tmp")).toBeLessThan(i);
  });

  test("a list: self-binds, read-only root, cleared on listed paths, ro mounts below restored", () => {
    const roBind = { ...tmpfs, target: "data/ro", readOnly: true };
    const steps = planLinux({ ...base, writable: ["data"], mounts: [roBind] }).child;
    const attrs = steps.filter((s) => s.op === "setattr");
    expect(attrs).toEqual([
      { op: "setattr", path: "", set: MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, clear: 0, recursive: true },
      { op: "setattr", path: "", set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true },
      { op: "setattr", path: "data", set: 0, clear: MOUNT_ATTR_RDONLY, recursive: true },
      { op: "setattr", path: "data/ro", set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true },
    ]);
    expect(steps.find((s) => s.op === "mount" && s.sourceInRoot)).toMatchObject({ source: "data", target: "data" });
  });

  test("a list: a writable path is not created; its bind fails naming it", () => {
    const steps = planLinux({ ...base, writable: ["biuld"] }).child;
    expect(steps.some((s) => s.op === "mkdirs")).toBe(false);
    const bind = steps.find((s) => s.op === "mount" && s.sourceInRoot)!;
    expect(describeStep(bind)).toBe("bind writable path /biuld");
  });

  test("--writable-create: the path is made before its bind, said so in errors, and kept after the run", () => {
    const plan = planLinux({ ...base, writable: ["build/out", "data"], createWritable: ["build/out"] });
    const made = plan.child.findIndex((s) => s.op === "mkdirs");
    expect(plan.child[made]).toEqual({ op: "mkdirs", path: "build/out", mode: 0o755, file: false, keep: true });
    expect(made).toBeLessThan(plan.child.findIndex((s) => s.op === "mount" && s.sourceInRoot && s.target === "build/out"));
    expect(describeStep(plan.child[made]!)).toBe("create writable path /build/out");
    // Created on purpose: not a mount point the cleanup removes.
    const outs = plan.child.map((s) => (s === plan.child[made] ? 2 : 0));
    expect(removableCreations(plan.child, outs)).toEqual([]);
    // Everything writable: made all the same.
    expect(planLinux({ ...base, writable: "all", createWritable: ["x"] }).child.filter((s) => s.op === "mkdirs")).toEqual([
      { op: "mkdirs", path: "x", mode: 0o755, file: false, keep: true },
    ]);
  });

  test("a list: the scratch mounts asked for (tmpfs, /dev's shm) stay writable, themselves only", () => {
    const roTmpfs = planMount({ source: null, target: "/ro", type: "tmpfs", options: "ro" });
    const dev = planMount({ source: null, target: "/dev", type: "dev", options: "" });
    const steps = planLinux({ ...base, writable: ["build"], mounts: [tmpfs, roTmpfs, dev] }).child;
    const root = steps.findIndex((s) => s.op === "setattr" && s.path === "" && s.set === MOUNT_ATTR_RDONLY);
    const cleared = steps.slice(root + 1).filter((s) => s.op === "setattr" && s.clear === MOUNT_ATTR_RDONLY);
    expect(cleared).toEqual([
      { op: "setattr", path: "tmp", set: 0, clear: MOUNT_ATTR_RDONLY, recursive: false },
      { op: "setattr", path: "dev/shm", set: 0, clear: MOUNT_ATTR_RDONLY, recursive: false },
      { op: "setattr", path: "build", set: 0, clear: MOUNT_ATTR_RDONLY, recursive: true },
    ]);
    // 'none' asks for everything read-only: nothing is cleared.
    const none = planLinux({ ...base, writable: "none", mounts: [tmpfs, dev] }).child;
    expect(none.filter((s) => s.op === "setattr" && s.clear === MOUNT_ATTR_RDONLY)).toEqual([]);
  });

  test("remount,ro: the target bound onto itself and made read-only, no filesystem mounted", () => {
    const remount = planMount({ source: null, target: "/data", type: null, options: "remount,ro" });
    const steps = planLinux({ ...base, mounts: [remount] }).child;
    const i = steps.findIndex((s) => s.op === "mount" && s.target === "data");
    expect(steps[i]).toMatchObject({ source: "data", sourceInRoot: true, fstype: null, flags: MS_BIND | MS_REC });
    expect(steps[i + 1]).toEqual({ op: "setattr", path: "data", set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, clear: 0, recursive: true });
  });

  test("cleanup removes only mount points created on the root's own filesystem", () => {
    const inner = planMount({ source: null, target: "/tmp/inner", type: "tmpfs", options: "" });
    const plan = planLinux({ ...base, mounts: [tmpfs, inner] });
    const outs = plan.child.map((s) => (s.op === "mkdirs" ? 1 : -1));
    expect(plan.cleanup(outs)).toEqual({ remove: [{ op: "rmdirs", path: "tmp", count: 1, file: false }] });
  });

  test("cleanup removes what a mkdirs step created before it failed part-way, not the components it never reached", () => {
    const deep = planMount({ source: null, target: "/a/b/c/d", type: "tmpfs", options: "" });
    const plan = planLinux({ ...base, mounts: [deep] });
    // "a" existed; "a/b" was made; "a/b/c" failed (a name too long): two trailing components never reached.
    const outs = plan.child.map((s) => (s.op === "mkdirs" ? 1 | (2 << MKDIRS_UNREACHED_SHIFT) : -1));
    expect(plan.cleanup(outs)).toEqual({ remove: [{ op: "rmdirs", path: "a/b", count: 1, file: false }] });
  });

  test("the minimal /dev has safe nodes only, pts and shm", () => {
    const dev = planMount({ source: null, target: "/dev", type: "dev", options: "" });
    const steps = planLinux({ ...base, mounts: [dev] }).child;
    const nodes = steps.filter((s) => s.op === "mknod").map((s) => (s.op === "mknod" ? s.path : ""));
    expect(nodes).toEqual(["dev/null", "dev/zero", "dev/full", "dev/random", "dev/urandom", "dev/tty"]);
    const fs = steps.filter((s) => s.op === "mount" && s.inRoot).map((s) => (s.op === "mount" ? `${s.fstype}@${s.target}` : ""));
    expect(fs).toEqual(["tmpfs@dev", "devpts@dev/pts", "tmpfs@dev/shm"]);
  });
});

describe("proc and sysfs hardening", () => {
  // The paths runc and Docker mask and make read-only, written out here so
  // that a change to the lists in mounts.ts shows in this test.
  const READ_ONLY = ["sys", "sysrq-trigger", "irq", "bus", "fs"];
  const MASKED_FILES = ["kcore", "keys", "timer_list", "timer_stats", "sched_debug", "latency_stats", "interrupts"];
  const MASKED_DIRS = ["acpi", "asound", "scsi"];
  const LOCKED = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  const sysfs = planMount({ source: null, target: "/sys", type: "sysfs", options: "" });
  const targets = (steps: Step[]) => steps.flatMap((s) => (s.op === "mount" ? [s.target] : []));

  test("a proc mount is followed by read-only binds of its control files, then masks over the rest", () => {
    const steps = extraMountSteps([proc]);
    expect(steps.slice(0, 2)).toEqual([
      { op: "mkdirs", path: "proc", mode: 0o755, file: false },
      { op: "mount", source: "proc", target: "proc", inRoot: true, sourceInRoot: false, fstype: "proc", flags: MS_NOSUID | MS_NODEV, data: null },
    ]);
    expect(targets(steps.slice(2))).toEqual([...READ_ONLY, ...MASKED_FILES, ...MASKED_DIRS].map((name) => `proc/${name}`));
    // Read-only: bound onto itself, then every flag set on the whole tree.
    expect(steps.slice(2, 4)).toEqual([
      { op: "mount", source: "proc/sys", target: "proc/sys", inRoot: true, sourceInRoot: true, fstype: null, flags: MS_BIND | MS_REC, data: null, optional: true },
      { op: "setattr", path: "proc/sys", set: LOCKED, clear: 0, recursive: true, optional: true },
    ]);
    // A masked file: the host's /dev/null over it, read-only so that its
    // mode cannot be changed from inside, and not nodev: it reads empty.
    const kcore = steps.findIndex((s) => s.op === "mount" && s.target === "proc/kcore");
    expect(steps.slice(kcore, kcore + 2)).toEqual([
      { op: "mount", source: "/dev/null", target: "proc/kcore", inRoot: true, sourceInRoot: false, fstype: null, flags: MS_BIND, data: null, optional: true },
      { op: "setattr", path: "proc/kcore", set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, clear: 0, recursive: false, optional: true },
    ]);
    // A masked directory: an empty read-only tmpfs.
    expect(steps.find((s) => s.op === "mount" && s.target === "proc/acpi")).toEqual({
      op: "mount", source: "tmpfs", target: "proc/acpi", inRoot: true, sourceInRoot: false, fstype: "tmpfs",
      flags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data: "mode=555", optional: true,
    });
  });

  test("only the hardening steps are optional (skipped where this kernel lacks the file)", () => {
    const steps = extraMountSteps([proc, tmpfs]);
    const optional = steps.filter((s) => "optional" in s && s.optional);
    expect(optional.length).toBe(2 * READ_ONLY.length + 2 * MASKED_FILES.length + MASKED_DIRS.length);
    expect(steps.filter((s) => !("optional" in s && s.optional)).map((s) => `${s.op} ${"target" in s ? s.target : "path" in s ? s.path : ""}`)).toEqual([
      "mkdirs proc", "mount proc", "mkdirs tmp", "mount tmp",
    ]);
  });

  test("whatever the proc mount's own options, even explicit dev,suid,rw", () => {
    const loose = planMount({ source: null, target: "/proc", type: "proc", options: "rw,dev,suid" });
    const steps = extraMountSteps([loose]);
    expect(steps[1]).toMatchObject({ fstype: "proc", flags: 0 });
    expect(targets(steps.slice(2)).length).toBe(READ_ONLY.length + MASKED_FILES.length + MASKED_DIRS.length);
  });

  test("a sysfs mount is read-only, nodev, nosuid, with firmware and power capping masked", () => {
    const steps = extraMountSteps([sysfs]);
    expect(steps[1]).toMatchObject({ op: "mount", target: "sys", fstype: "sysfs", flags: MS_RDONLY | MS_NOSUID | MS_NODEV });
    expect(steps.slice(2)).toEqual(["sys/firmware", "sys/devices/virtual/powercap"].map((target) => ({
      op: "mount", source: "tmpfs", target, inRoot: true, sourceInRoot: false, fstype: "tmpfs",
      flags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, data: "mode=555", optional: true,
    })));
  });

  test("linux: after the proc mount, inside the root, before pivot_root", () => {
    const steps = planLinux({ ...base, mounts: [proc] }).child;
    const mounted = steps.findIndex((s) => s.op === "mount" && s.fstype === "proc");
    const masked = steps.findIndex((s) => s.op === "mount" && s.target === "proc/kcore");
    expect(mounted).toBeGreaterThan(0);
    expect(masked).toBeGreaterThan(mounted);
    expect(masked).toBeLessThan(steps.findIndex((s) => s.op === "close-root"));
  });

  test("linux: below a writable path, the hardened paths get read-only back after it is cleared", () => {
    const inData = { ...proc, target: "data/proc" };
    const sysInData = { ...sysfs, target: "data/sys" };
    const steps = planLinux({ ...base, writable: ["data"], mounts: [inData, sysInData, tmpfs] }).child;
    const cleared = steps.findIndex((s) => s.op === "setattr" && s.path === "data" && s.clear === MOUNT_ATTR_RDONLY);
    const restored = steps.slice(cleared + 1).filter((s) => s.op === "setattr");
    expect(restored).toEqual([
      ...[...READ_ONLY, ...MASKED_FILES, ...MASKED_DIRS].map((n) => `data/proc/${n}`),
      "data/sys", "data/sys/firmware", "data/sys/devices/virtual/powercap",
    ].map((path) => ({ op: "setattr", path, set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true, optional: true })));
    // Not below a writable path: nothing to restore.
    const elsewhere = planLinux({ ...base, writable: ["data"], mounts: [proc] }).child;
    expect(elsewhere.filter((s) => s.op === "setattr" && s.optional && s.set === MOUNT_ATTR_RDONLY)).toEqual([]);
  });
});

describe("no device nodes, no set-user-ID programs", () => {
  const tmpfsDev = planMount({ source: null, target: "/scratch", type: "tmpfs", options: "dev" });
  const bind = planMount({ source: "/", target: "/host", type: "bind", options: "" });
  const roBind = planMount({ source: "/", target: "/host", type: "bind", options: "ro" });
  const devBind = planMount({ source: "/", target: "/host", type: "bind", options: "dev,suid" });
  const dev = planMount({ source: null, target: "/dev", type: "dev", options: "" });
  const bindAttr = (m: PlanInput["mounts"][number]) => extraMountSteps([m]).find((s) => s.op === "setattr");

  test("linux: the root and its submounts are made nodev,nosuid before any extra mount (so --dev keeps its devices)", () => {
    const steps = planLinux({ ...base, mounts: [dev, tmpfs] }).child;
    const root = steps.findIndex((s) => s.op === "setattr" && s.path === "" && s.set === (MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID) && s.recursive);
    expect(steps[root - 1]).toEqual({ op: "open-root", path: "/srv/root" });
    expect(root).toBeLessThan(steps.findIndex((s) => s.op === "mkdirs"));
  });

  test("filesystems are mounted nodev,nosuid unless the options say dev or suid", () => {
    expect(extraMountSteps([tmpfs])[1]).toMatchObject({ fstype: "tmpfs", flags: MS_NOSUID | MS_NODEV });
    expect(extraMountSteps([tmpfsDev])[1]).toMatchObject({ fstype: "tmpfs", flags: MS_NOSUID });
    const mqueue = planMount({ source: null, target: "/dev/mqueue", type: "mqueue", options: "" });
    expect(extraMountSteps([mqueue])[1]).toMatchObject({ fstype: "mqueue", flags: MS_NOSUID | MS_NODEV });
  });

  test("binds get nodev,nosuid on the whole bound tree; explicit dev/suid are cleared there instead", () => {
    expect(bindAttr(bind)).toEqual({ op: "setattr", path: "host", set: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, clear: 0, recursive: true });
    expect(bindAttr(roBind)).toEqual({ op: "setattr", path: "host", set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, clear: 0, recursive: true });
    expect(bindAttr(devBind)).toEqual({ op: "setattr", path: "host", set: 0, clear: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, recursive: true });
  });

  test("sandboxlib's own /dev: its tmpfs and pts allow devices (only safe nodes are made), shm does not", () => {
    const fs = extraMountSteps([dev]).flatMap((s) => (s.op === "mount" ? [[s.target, s.flags & (MS_NODEV | MS_NOSUID)]] : []));
    expect(fs).toEqual([["dev", MS_NOSUID], ["dev/pts", MS_NOSUID], ["dev/shm", MS_NOSUID | MS_NODEV]]);
  });
});

describe("command hardening", () => {
  const command = (hardening: Partial<PlanInput["hardening"]>, cgroupProcs: string[] = []) => {
    const steps = planLinux({ ...base, hardening: { ...base.hardening, ...hardening }, cgroupProcs }).child;
    return steps.slice(steps.findIndex((s) => s.op === "fork-command") + 1);
  };

  test("build.ts can assemble ahead of time every seccomp policy a plan asks for, each under its own key", () => {
    const policies = policiesFor("x64");
    expect(new Set(policies.map(policyKey)).size).toBe(4);
    // The planned filter (with SYS_ADMIN kept or not) is one of them.
    for (const caps of [DEFAULT_CAPABILITIES, [...DEFAULT_CAPABILITIES, "SYS_ADMIN"]]) {
      const step = command({ seccomp: true, capabilities: [...caps] }).find((s) => s.op === "seccomp");
      expect(step).toBeDefined();
      const matching = policies.filter((p) => step?.op === "seccomp" && Buffer.from(buildSeccompFilter(p)).equals(Buffer.from(step.filter)));
      expect(matching.length).toBe(1);
    }
  });

  test("privileges are shed in order, seccomp last before exec", () => {
    const steps = command({ seccomp: true, uid: 65534, gid: 65534, passFds: [7], rlimits: [{ name: "nofile", resource: 7, soft: 64n, hard: 64n }] });
    expect(ops(steps)).toEqual([
      "setsid", "rlimit", "dup2", "dup2", "dup2", "dup2", "close-from", "capabilities", "set-ids", "no-new-privs", "seccomp", "exec",
    ]);
    expect(steps[5]).toEqual({ op: "dup2", from: 7, to: 7 });
    expect(steps[6]).toEqual({ op: "close-from", fd: 3, keep: [7] });
    expect(steps[8]).toEqual({ op: "set-ids", uid: 65534, gid: 65534 });
  });

  test("the kept capability mask is Docker's default set without MKNOD", () => {
    const caps = command({}).find((s) => s.op === "capabilities");
    // CHOWN..SETPCAP (0-8), NET_BIND_SERVICE 10, NET_RAW 13, SYS_CHROOT 18, AUDIT_WRITE 29, SETFCAP 31.
    expect(caps).toMatchObject({ op: "capabilities", keep: 0xa00425fbn, setEffective: false });
  });

  test("--share-session keeps the caller's session", () => {
    expect(ops(command({ newSession: false }))).not.toContain("setsid");
  });

  test("the init opens the cgroup files first; only the command joins, before anything else", () => {
    const procs = ["/sys/fs/cgroup/pids/sandboxlib/x/cgroup.procs", "/sys/fs/cgroup/memory/sandboxlib/x/cgroup.procs"];
    const steps = planLinux({ ...base, cgroupProcs: procs }).child;
    expect(steps.slice(0, 2)).toEqual(procs.map((path) => ({ op: "open-fd", path, flags: 0o2000001, mode: 0, fd: -1 })));
    const command = steps.slice(steps.findIndex((s) => s.op === "fork-command") + 1);
    expect(command.slice(0, 3)).toEqual([
      { op: "write-fd", openedBy: 0, content: "0" },
      { op: "write-fd", openedBy: 1, content: "0" },
      { op: "setsid" },
    ]);
  });
});

describe("removableCreations", () => {
  test("nothing created, nothing removed", () => {
    const steps: Step[] = [{ op: "mkdirs", path: "a", mode: 0o755, file: false }];
    expect(removableCreations(steps, [0])).toEqual([]);
  });
});

describe("createWritablePaths (library) and --writable-create", () => {
  test("a path to create is writable too: added to a list, replacing none, leaving all as it is", async () => {
    const { toSandboxConfig } = await import("../../src/config/options.ts");
    const pick = (o: Parameters<typeof toSandboxConfig>[1]) => {
      const c = toSandboxConfig(["true"], o);
      return [c.filesystemWritablePaths, c.createWritablePaths];
    };
    expect(pick({ filesystemWritablePaths: ["/a"], createWritablePaths: ["/b", "/a"] })).toEqual([["/a", "/b"], ["/b", "/a"]]);
    expect(pick({ filesystemWritablePaths: "none", createWritablePaths: ["/b"] })).toEqual([["/b"], ["/b"]]);
    expect(pick({ createWritablePaths: ["/b"] })).toEqual(["all", ["/b"]]);
    expect(pick({})).toEqual(["all", []]);
    expect(() => toSandboxConfig(["true"], { createWritablePaths: [""] })).toThrow("invalid createWritablePaths");
    expect(() => toSandboxConfig(["true"], { createWritablePaths: ["/a\0b"] })).toThrow("contains a NUL byte");
  });

  test("the command line: --writable-create adds the path to the writable ones and to those to create", async () => {
    const { defaultSettings, applyOption } = await import("../../src/cli/settings.ts");
    const s = defaultSettings();
    applyOption(s, "--writable", "/src");
    applyOption(s, "--writable-create", "/build");
    expect([s.writable, s.writableCreate]).toEqual([["/src", "/build"], ["/build"]]);
    expect(() => applyOption(s, "--writable-create", "")).toThrow("empty value for --writable-create");
  });
});
