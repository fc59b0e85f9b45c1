// Plans are data: what each backend will do, checked without root.
import { describe, expect, test } from "bun:test";
import { planMount } from "../../src/config/resolve.ts";
import { MS_BIND, MS_REC } from "../../src/config/mount-options.ts";
import { CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS } from "../../src/native/clone-flags.ts";
import { planChroot } from "../../src/plan/chroot-plan.ts";
import type { PlanInput } from "../../src/plan/input.ts";
import { planLinux } from "../../src/plan/linux-plan.ts";
import { MOUNT_ATTR_RDONLY, removableCreations } from "../../src/plan/mounts.ts";
import { posix } from "node:path";
import { absolutePath, inRootPath, isWithin } from "../../src/plan/paths.ts";
import type { Step } from "../../src/plan/steps.ts";
import { DEFAULT_CAPABILITIES } from "../../src/hardening/capabilities.ts";
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
  },
  cgroupProcs: [],
};

const proc = planMount({ source: null, target: "/proc", type: "proc", options: "" });
const tmpfs = planMount({ source: null, target: "/tmp/", type: "tmpfs", options: "size=1m" });
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
  test("no mounts: nothing on the host; chroot, chdir, stdio, close, exec", () => {
    const plan = planChroot(base);
    expect(plan.host).toEqual([]);
    expect(plan.cloneFlags).toBe(0);
    expect(ops(plan.child)).toEqual([
      "chroot", "chdir", "setsid", "dup2", "dup2", "dup2", "close-from", "capabilities", "capabilities", "no-new-privs", "exec",
    ]);
    expect(plan.child.at(-1)).toEqual({ op: "exec", file: "make", argv: ["make", "-j2"], env: ["PATH=/bin"], searchPath: "/bin" });
    expect(plan.child.slice(3, 6)).toEqual([
      { op: "dup2", from: 10, to: 0 },
      { op: "dup2", from: 11, to: 1 },
      { op: "dup2", from: 12, to: 2 },
    ]);
  });

  test("root / is not chrooted into", () => {
    expect(ops(planChroot({ ...base, root: "/" }).child)[0]).toBe("chdir");
  });

  test("mounts are made on the host in the root, with handles, and undone in reverse", () => {
    const plan = planChroot({ ...base, mounts: [proc, tmpfs] });
    expect(ops(plan.host)).toEqual(["open-root", "mkdirs", "mount", "mkdirs", "mount", "close-root"]);
    expect(plan.host[2]).toMatchObject({ op: "mount", target: "proc", inRoot: true, fstype: "proc", keepHandle: true });
    expect(plan.host[4]).toMatchObject({ target: "tmp", fstype: "tmpfs", data: "size=1m" });
    // Both mounts succeeded (handles 7 and 8); /proc was created, /tmp existed.
    const outs = [-1, 1, 7, 0, 8, -1];
    const cleanup = plan.cleanup(outs, plan.host.length, []);
    expect(cleanup).toEqual({
      unmount: [
        { op: "umount-handle", handleOf: 4, flags: 2 },
        { op: "umount-handle", handleOf: 2, flags: 2 },
      ],
      remove: [{ op: "rmdirs", path: "proc", count: 1, file: false }],
    });
    expect(plan.createsMountPoints).toBe(true);
  });

  test("after a setup failure only what ran is undone", () => {
    const plan = planChroot({ ...base, mounts: [proc, tmpfs] });
    // The second mount (step 4) failed; its mount point had been created.
    const outs = [-1, 1, 7, 1, -1, -1];
    expect(plan.cleanup(outs, 4, [])).toEqual({
      unmount: [{ op: "umount-handle", handleOf: 2, flags: 2 }],
      remove: [
        { op: "rmdirs", path: "tmp", count: 1, file: false },
        { op: "rmdirs", path: "proc", count: 1, file: false },
      ],
    });
  });
});

describe("linux plan", () => {
  test("namespaces; network only when isolated", () => {
    expect(planLinux(base).cloneFlags).toBe(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS);
    expect(planLinux({ ...base, network: "isolated" }).cloneFlags & CLONE_NEWNET).toBe(CLONE_NEWNET);
  });

  test("private /, root bound onto itself, pivot_root, init, then the command", () => {
    const plan = planLinux({ ...base, network: "isolated" });
    expect(plan.host).toEqual([]);
    expect(ops(plan.child)).toEqual([
      "private-root", "mount", "open-root", "close-root", "pivot-root", "sethostname", "loopback-up", "chdir",
      "fork-command", "setsid", "dup2", "dup2", "dup2", "close-from", "capabilities", "capabilities", "no-new-privs", "exec",
    ]);
    expect(plan.child[0]).toEqual({ op: "private-root" });
    expect(plan.child[1]).toMatchObject({ source: "/srv/root", target: "/srv/root", flags: MS_BIND | MS_REC });
    expect(plan.child[5]).toEqual({ op: "sethostname", name: "sandbox" });
  });

  test("'none' makes the whole tree read-only, recursively", () => {
    const steps = planLinux({ ...base, writable: "none", mounts: [tmpfs] }).child;
    const i = steps.findIndex((s) => s.op === "setattr");
    expect(steps[i]).toEqual({ op: "setattr", path: "", set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true });
    // After the extra mounts, so they are covered too.
    expect(steps.findIndex((s) => s.op === "mount" && s.target === "tmp")).toBeLessThan(i);
  });

  test("a list: self-binds, read-only root, cleared on listed paths, ro mounts below restored", () => {
    const roBind = { ...tmpfs, target: "data/ro", readOnly: true };
    const steps = planLinux({ ...base, writable: ["data"], mounts: [roBind] }).child;
    const attrs = steps.filter((s) => s.op === "setattr");
    expect(attrs).toEqual([
      { op: "setattr", path: "", set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true },
      { op: "setattr", path: "data", set: 0, clear: MOUNT_ATTR_RDONLY, recursive: true },
      { op: "setattr", path: "data/ro", set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true },
    ]);
    expect(steps.find((s) => s.op === "mount" && s.sourceInRoot)).toMatchObject({ source: "data", target: "data" });
  });

  test("cleanup removes only mount points created on the root's own filesystem", () => {
    const inner = planMount({ source: null, target: "/tmp/inner", type: "tmpfs", options: "" });
    const plan = planLinux({ ...base, mounts: [tmpfs, inner] });
    const outs = plan.child.map((s) => (s.op === "mkdirs" ? 1 : -1));
    expect(plan.cleanup([], 0, outs)).toEqual({
      unmount: [],
      remove: [{ op: "rmdirs", path: "tmp", count: 1, file: false }],
    });
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

  test("the kept capability mask is Docker's default set", () => {
    const caps = command({}).find((s) => s.op === "capabilities");
    // CHOWN..SETPCAP (0-8), NET_BIND_SERVICE 10, NET_RAW 13, SYS_CHROOT 18, MKNOD 27, AUDIT_WRITE 29, SETFCAP 31.
    expect(caps).toMatchObject({ op: "capabilities", keep: 0xa80425fbn, setEffective: false });
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
