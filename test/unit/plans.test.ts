// Plans are data: what each backend will do, checked without root.
import { describe, expect, test } from "bun:test";
import { planMount } from "../../src/config/resolve.ts";
import { MS_BIND, MS_PRIVATE, MS_REC } from "../../src/config/mount-options.ts";
import { CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS } from "../../src/native/clone-flags.ts";
import { planChroot } from "../../src/plan/chroot-plan.ts";
import type { PlanInput } from "../../src/plan/input.ts";
import { planLinux } from "../../src/plan/linux-plan.ts";
import { MOUNT_ATTR_RDONLY, removableCreations } from "../../src/plan/mounts.ts";
import { inRootPath, isWithin } from "../../src/plan/paths.ts";
import type { Step } from "../../src/plan/steps.ts";

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
    expect(ops(plan.child)).toEqual(["chroot", "chdir", "dup2", "dup2", "dup2", "close-from", "exec"]);
    expect(plan.child.at(-1)).toEqual({ op: "exec", file: "make", argv: ["make", "-j2"], env: ["PATH=/bin"], searchPath: "/bin" });
    expect(plan.child.slice(2, 5)).toEqual([
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
      "mount", "mount", "open-root", "close-root", "pivot-root", "sethostname", "loopback-up", "chdir",
      "fork-command", "dup2", "dup2", "dup2", "close-from", "exec",
    ]);
    expect(plan.child[0]).toMatchObject({ target: "/", flags: MS_REC | MS_PRIVATE });
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

describe("removableCreations", () => {
  test("nothing created, nothing removed", () => {
    const steps: Step[] = [{ op: "mkdirs", path: "a", mode: 0o755, file: false }];
    expect(removableCreations(steps, [0])).toEqual([]);
  });
});
