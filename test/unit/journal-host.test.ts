// The mount-point journal and the sweep of a chroot sandbox's leftovers
// against the recording fake host: intents before anything is created,
// settling, recovery from a run that died, a full state directory, and the
// order of the cleanup. No root, no real state directory.
import { describe, expect, test } from "bun:test";
import { SandboxError } from "../../src/base/errors.ts";
import type { PlanInput } from "../../src/config/plan-input.ts";
import { planMount } from "../../src/config/resolve.ts";
import { DEFAULT_CAPABILITIES } from "../../src/hardening/capabilities.ts";
import { planLinux } from "../../src/plan/linux-plan.ts";
import { killMarked } from "../../src/supervise/leftovers.ts";
import { guardMountPoints, journalLines, parseJournal, settledLine } from "../../src/supervise/mount-points.ts";
import { FakeHost } from "../helpers/fake-host.ts";

const ROOT = "/srv/root";
const STATE = "/run/sandboxlib";

const input: PlanInput = {
  root: ROOT,
  rootReentry: ROOT,
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
const planWith = (...targets: string[]) => planLinux({ ...input, mounts: targets.map(tmpfs) }, { loopback: false });

function hostWithRoot(...dirs: string[]): { h: FakeHost; journal: string } {
  const h = new FakeHost({ [ROOT]: null, "/run": null });
  for (const d of dirs) h.rootPaths.set(d, "dir");
  const st = h.stat(ROOT)!;
  return { h, journal: `${STATE}/${st.dev}-${st.ino}.created` };
}

const rm = (path: string, count = 1, file = false) => ({ op: "rmdirs" as const, path, count, file });

describe("mount-point journal (fake host)", () => {
  test("a run that creates: shared lock, intents before anything is created, settled to what was made, removed by the last one out", () => {
    const { h, journal } = hostWithRoot("tmp");
    const guard = guardMountPoints(ROOT, true, h, STATE)!;
    expect(h.calls).toEqual([`open ${ROOT} = 10`, "flock 10 LOCK_SH"]);
    guard.intend(planWith("/tmp", "/a/b"));
    expect(h.calls.slice(2)).toEqual([`mkdir ${STATE} 0700`, `append ${journal} 0600`]);
    const run = /"run":"([^"]+)"/.exec(h.files.get(journal)!)![1]!;
    expect(run).toMatch(/^4242-\d+-\d+$/);
    expect(h.files.get(journal)).toBe(`\n${journalLines(run, [rm("a/b", 2)], true)}`);
    // The sandbox made only "a/b" (its parent existed by then).
    h.rootPaths.set("a", "dir").set("a/b", "dir");
    guard.settle([rm("a/b")]);
    expect(parseJournal(h.files.get(journal)!)).toEqual([{ run, removal: rm("a/b"), intent: false }]);
    h.calls.length = 0;
    const removed: unknown[] = [];
    guard.finish((removals) => {
      h.calls.push("remove mount points");
      removed.push(...removals);
    });
    expect(removed).toEqual([rm("a/b")]);
    // Cleanup order: let go, take the root alone, remove under that lock, forget, close.
    expect(h.calls).toEqual(["flock 10 LOCK_UN", "flock 10 LOCK_EX|LOCK_NB", "remove mount points", `remove ${journal}`, "close 10"]);
    guard.finish(() => h.calls.push("again"));
    expect(h.calls.at(-1)).toBe("close 10");
  });

  test("nothing to create and no journal: no guard, no lock, nothing touched", () => {
    const { h } = hostWithRoot();
    expect(guardMountPoints(ROOT, false, h, STATE)).toBeNull();
    expect(h.calls).toEqual([]);
  });

  test("recovery: a run that died after journalling its intents has them removed by the next run, deepest first; a filled file stays", () => {
    const { h, journal } = hostWithRoot();
    const dead = "77-1700000000000-1";
    h.addFile(journal, `\n${journalLines(dead, [rm("x/y/z", 3), rm("m", 1, true), rm("n", 1, true)], true)}`);
    // It made x/y (not z) and the file mount points m, then died; n was written to since.
    h.rootPaths.set("x", "dir").set("x/y", "dir").set("m", "empty-file").set("n", "file");
    const guard = guardMountPoints(ROOT, false, h, STATE)!;
    expect(guard).not.toBeNull();
    guard.intend(planWith()); // creates nothing: nothing appended
    let removed: unknown[] = [];
    guard.finish((r) => (removed = r));
    // Deepest first; at one depth, newest record first. x/y/z was never made: its rmdir finds nothing, harmlessly.
    expect(removed).toEqual([rm("x/y/z"), rm("x/y"), rm("x"), rm("m", 1, true)]);
    expect(h.exists(journal)).toBe(false);
  });

  test("a settled run's intents are replaced by what it made", () => {
    const { h, journal } = hostWithRoot();
    h.addFile(journal, `\n${journalLines("1-1-1", [rm("p/q", 2)], true)}${journalLines("1-1-1", [rm("p/q")], false)}${settledLine("1-1-1")}`);
    h.rootPaths.set("p", "dir").set("p/q", "dir");
    let removed: unknown[] = [];
    guardMountPoints(ROOT, false, h, STATE)!.finish((r) => (removed = r));
    expect(removed).toEqual([rm("p/q")]);
  });

  test("another run still on the root: nothing removed, the journal stays for the last one", () => {
    const { h, journal } = hostWithRoot();
    h.addFile(journal, `\n${journalLines("1-1-1", [rm("p")], false)}`);
    h.otherRunHoldsRoot = true;
    const guard = guardMountPoints(ROOT, false, h, STATE)!;
    h.calls.length = 0;
    guard.finish(() => h.calls.push("remove mount points"));
    expect(h.calls).toEqual(["flock 10 LOCK_UN", "flock 10 LOCK_EX|LOCK_NB (would block)", "close 10"]);
    expect(h.exists(journal)).toBe(true);
  });

  test("a full state directory ends the run before anything is created (exit 125), and its cleanup still lets go of the root", () => {
    const { h, journal } = hostWithRoot();
    h.fail("append", journal, "ENOSPC");
    const guard = guardMountPoints(ROOT, true, h, STATE)!;
    let error: unknown;
    try {
      guard.intend(planWith("/new"));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SandboxError);
    expect((error as SandboxError).message).toBe(
      `cannot record the mount points this run may create in the state directory ${STATE}: No space left on device (SANDBOXLIB_STATE_DIR chooses another)`,
    );
    expect((error as SandboxError).exitCode).toBe(125);
    h.calls.length = 0;
    guard.finish(() => h.calls.push("remove mount points"));
    expect(h.calls).toEqual(["flock 10 LOCK_UN", "close 10"]);
  });

  test("a state directory that cannot be made: the same refusal, its reason named", () => {
    const { h } = hostWithRoot();
    h.fail("mkdir", STATE, "EROFS");
    const guard = guardMountPoints(ROOT, true, h, STATE)!;
    expect(() => guard.intend(planWith("/new"))).toThrow(`cannot record the mount points this run may create in the state directory ${STATE}: Read-only file system (SANDBOXLIB_STATE_DIR chooses another)`);
  });

  test("settling that fails (the disk filled meanwhile) is silent: the intents stand and are removed", () => {
    const { h, journal } = hostWithRoot();
    const guard = guardMountPoints(ROOT, true, h, STATE)!;
    guard.intend(planWith("/new/dir"));
    h.fail("append", journal, "ENOSPC");
    h.rootPaths.set("new", "dir").set("new/dir", "dir");
    expect(() => guard.settle([rm("new/dir", 2)])).not.toThrow();
    let removed: unknown[] = [];
    guard.finish((r) => (removed = r));
    expect(removed).toEqual([rm("new/dir"), rm("new")]);
  });
});

describe("leftovers of a chroot sandbox (fake host)", () => {
  function procHost(): FakeHost {
    const h = new FakeHost();
    const proc = (pid: number, state: string, session: number, mnt: string) => {
      h.addFile(`/proc/${pid}/stat`, `${pid} (a) b) ${state} 1 ${session} ${session} 0 -1`);
      h.links.set(`/proc/${pid}/ns/mnt`, mnt);
      h.alive.add(pid);
    };
    proc(1, "S", 1, "mnt:[1]");
    proc(4242, "S", 4242, "mnt:[1]"); // sandboxlib itself
    proc(300, "S", 300, "mnt:[1]"); // the command's session
    proc(301, "R", 999, "mnt:[7]"); // left the session, still in the sandbox's mounts
    proc(302, "Z", 300, "mnt:[1]"); // a zombie: nothing to kill
    proc(303, "S", 500, "mnt:[1]"); // someone else
    return h;
  }

  test("every marked process is SIGKILLed, pass after pass until none is found; sandboxlib, init, zombies and others are spared", () => {
    const h = procHost();
    killMarked({ session: 300, mountNamespace: "mnt:[7]" }, h);
    expect(h.calls).toEqual(["kill 300 9", "kill 301 9"]);
    expect([...h.alive].sort()).toEqual([1, 302, 303, 4242]);
  });

  test("no marks: nothing read, nothing killed", () => {
    const h = procHost();
    h.recordReads = true;
    killMarked({ session: null, mountNamespace: null }, h);
    expect(h.calls).toEqual([]);
  });
});
