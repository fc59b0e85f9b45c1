// The mount-point journal's pure parts: which mount points a plan may
// create (journalled before it runs), and what a journal asks to remove.
import { describe, expect, test } from "bun:test";
import { planMount } from "../../src/config/resolve.ts";
import { DEFAULT_CAPABILITIES } from "../../src/hardening/capabilities.ts";
import { planChroot } from "../../src/plan/chroot-plan.ts";
import type { PlanInput } from "../../src/config/plan-input.ts";
import { planLinux } from "../../src/plan/linux-plan.ts";
import { intendedCreations, journalLines, journalRemovals, parseJournal, settledLine } from "../../src/supervise/mount-points.ts";
import type { Presence } from "../../src/supervise/root-probe.ts";

const base: PlanInput = {
  root: "/srv/root",
  rootReentry: "/srv/root",
  argv: ["true"],
  env: [],
  searchPath: "/bin",
  cwd: "/",
  mounts: [],
  writable: "all",
  network: "undefined",
  hostname: null,
  stdio: [10, 11, 12],
  hardening: { newSession: true, passFds: [], rlimits: [], capabilities: DEFAULT_CAPABILITIES, uid: null, gid: null, seccomp: false, arch: "x64", processLimit: false },
  cgroupProcs: [],
};

const tmpfs = (target: string) => planMount({ source: null, target, type: "tmpfs", options: "" });
/** A root holding exactly these paths (and their parents). */
const rootWith = (...paths: string[]) => (path: string): Presence =>
  path === "" || paths.some((p) => p === path || p.startsWith(`${path}/`)) ? "present" : "missing";

describe("what a plan may create, journalled before it runs", () => {
  for (const [name, plan] of [["linux", planLinux], ["chroot", planChroot]] as const) {
    test(`${name}: the missing components of each mount point, newest first`, () => {
      const p = plan({ ...base, mounts: [tmpfs("/tmp"), tmpfs("/a/b/c"), tmpfs("/a/d")] });
      expect(intendedCreations(p, rootWith("tmp", "a"))).toEqual([
        { op: "rmdirs", path: "a/d", count: 1, file: false },
        { op: "rmdirs", path: "a/b/c", count: 2, file: false },
      ]);
    });

    test(`${name}: a component an earlier step creates is counted once`, () => {
      const p = plan({ ...base, mounts: [tmpfs("/x/y"), tmpfs("/x/z")] });
      expect(intendedCreations(p, rootWith())).toEqual([
        { op: "rmdirs", path: "x/z", count: 1, file: false },
        { op: "rmdirs", path: "x/y", count: 2, file: false },
      ]);
    });

    test(`${name}: nothing inside an earlier mount, nothing behind a component in the way`, () => {
      const dev = planMount({ source: null, target: "/dev", type: "dev", options: "" });
      const p = plan({ ...base, mounts: [dev, tmpfs("/dev/inner"), tmpfs("/file/below")] });
      const presence = (path: string): Presence => (path === "file/below" ? "unreachable" : rootWith("file")(path));
      expect(intendedCreations(p, presence)).toEqual([{ op: "rmdirs", path: "dev", count: 1, file: false }]);
    });

    test(`${name}: everything present: nothing to journal`, () => {
      expect(intendedCreations(plan({ ...base, mounts: [tmpfs("/tmp")] }), rootWith("tmp"))).toEqual([]);
    });
  }

  test("linux: a writable path that does not exist is not created (its bind fails, naming it)", () => {
    expect(intendedCreations(planLinux({ ...base, writable: ["build/out"] }), rootWith("build"))).toEqual([]);
  });
});

describe("the journal", () => {
  const removal = (path: string, count: number, file = false) => ({ op: "rmdirs" as const, path, count, file });
  const present = () => "present" as const;

  test("intents of a run that settled are replaced by what it created", () => {
    const text = journalLines("r1", [removal("a/b", 2), removal("c", 1)], true) + journalLines("r1", [removal("c", 1)], false) + settledLine("r1");
    expect(journalRemovals(parseJournal(text), () => true, present)).toEqual([removal("c", 1)]);
  });

  test("intents of a run that died stay, beside what other runs created; one path at a time, deepest first", () => {
    const text = [journalLines("dead", [removal("x/y", 2)], true), journalLines("r2", [removal("z", 1)], false), settledLine("r2")].join("\n");
    expect(journalRemovals(parseJournal(text), () => true, present)).toEqual([removal("x/y", 1), removal("z", 1), removal("x", 1)]);
  });

  test("overlapping chains of several runs: a shared parent goes after every run's children, whatever order they were recorded in", () => {
    // r1 created soak/t0/x (three deep); the dead run meant to create soak/b1 inside it, recorded later.
    const text = [journalLines("r1", [removal("soak/t0/x", 3)], false), settledLine("r1"), journalLines("dead", [removal("soak/b1", 1)], true)].join("\n");
    const paths = journalRemovals(parseJournal(text), () => true, present).map((r) => r.path);
    expect(paths.indexOf("soak")).toBe(paths.length - 1);
    expect(new Set(paths)).toEqual(new Set(["soak/t0/x", "soak/t0", "soak/b1", "soak"]));
  });

  test("an intent's file goes only when it is an empty regular file, or is not there", () => {
    const text = journalLines("dead", [removal("f1", 1, true), removal("f2", 1, true), removal("f3", 2, true)], true);
    const removals = journalRemovals(parseJournal(text), (p) => p === "f1", (p) => (p === "f3" ? "missing" : "present"));
    expect(removals).toEqual([removal("f1", 1, true), removal("f3", 1, true)]);
  });

  test("lines of earlier versions count as created; torn and foreign lines are skipped", () => {
    const text = '{"path":"old","count":1,"file":false}\n{"path":"tor\n\nnull\n[1]\n{"run":"r","path":3,"count":1,"file":false}\n';
    expect(parseJournal(text)).toEqual([{ run: null, removal: removal("old", 1), intent: false }]);
  });
});
