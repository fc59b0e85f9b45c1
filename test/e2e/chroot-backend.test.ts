// The chroot backend end to end (compiled executable, busybox roots, root):
// its mounts live in a mount namespace of its own, never on the host, and
// are gone with it even when sandboxlib is SIGKILLed; sandboxes sharing a
// root do not disturb each other; whatever the command leaves running dies
// with it; root inside cannot leave the chroot; and without mounts it
// creates no namespace at all (it must run where that is refused).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, runCli } from "../helpers/cli.ts";
import { buildFixture, sleepers } from "../helpers/fixtures.ts";
import { isRoot, makeRootfs, mountsUnder, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";
import { eventually } from "../helpers/wait.ts";

requireRootNote("chroot-backend.test.ts");

let rootfs = "";
let scratch = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-chroot-"));
  buildFixture("chroot-escape", rootfs);
  // sh gives a background job /dev/null as stdin: a root without mounts
  // needs its own.
  const mknod = Bun.spawnSync(["mknod", "-m", "666", join(rootfs, "dev/null"), "c", "1", "3"]);
  if (mknod.exitCode !== 0) throw new Error("cannot create the root's /dev/null");
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(scratch, { recursive: true, force: true });
});

const chroot = (args: string[]) => [BIN, "run", "--backend", "chroot", "--root", rootfs, ...args];
const run = (args: string[], opts?: Parameters<typeof runCli>[1]) => runCli(chroot(args).slice(1), opts);

let markerCount = 0;
/** A number no other test uses, for `sleep <marker>`. */
const marker = () => String(4_100_000 + process.pid * 100 + markerCount++);

/** Pids of the processes whose mount namespace is `ns`. */
function processesIn(ns: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/mnt`) === ns) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** A fresh directory shared with the sandboxes (bound at /x). */
const sharedDir = (tag: string) => mkdtempSync(join(scratch, `${tag}-`));

/** Output and status of a sandboxlib started with Bun.spawn. */
async function outcome(proc: { stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array>; exited: Promise<number> }) {
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

describe.skipIf(!isRoot)("chroot backend: mounts stay in the sandbox", () => {
  /**
   * `n` sandboxes on one root, each with its own /tmp and the same bind: all
   * are up at once (they wait for each other), and the host's mount table
   * never shows one of their mounts, sampled all along and while all are up.
   */
  async function concurrentRuns(n: number) {
    const shared = sharedDir(`concurrent-${n}`);
    const script = (i: number) => `echo ${i} > /tmp/mine; touch /x/up-${i}; while [ ! -e /x/go ]; do sleep 0.02; done; cat /tmp/mine; ls /x | grep -c up-`;
    const seen: string[] = [];
    const sample = () => seen.push(...mountsUnder(rootfs), ...mountsUnder(shared));
    const sampler = setInterval(sample, 2);
    try {
      const procs = Array.from({ length: n }, (_, i) =>
        Bun.spawn(chroot(["--tmpfs", "/tmp", "--bind", `${shared}:/x`, "sh", "-c", script(i)]), { stdin: "ignore", stdout: "pipe", stderr: "pipe" }),
      );
      await eventually(() => readdirSync(shared).filter((f) => f.startsWith("up-")).length === n, `${n} sandboxes up at once`);
      sample();
      writeFileSync(join(shared, "go"), "");
      const results = await Promise.all(procs.map(outcome));
      // Each saw its own /tmp, and all of them the shared bind.
      expect(results).toEqual(Array.from({ length: n }, (_, i) => ({ code: 0, stdout: `${i}\n${n}\n`, stderr: "" })));
    } finally {
      clearInterval(sampler);
    }
    sample();
    expect(seen).toEqual([]);
    // The mount point /x was made for them, and is gone with the last one.
    expect(existsSync(join(rootfs, "x"))).toBe(false);
  }

  test("two concurrent runs sharing a root all succeed; no mount of theirs is ever on the host", () => concurrentRuns(2));

  test("ten concurrent runs sharing a root all succeed; no mount of theirs is ever on the host", () => concurrentRuns(10), 30_000);

  test("batch: sandboxes set up side by side on one root, none of their mounts on the host", async () => {
    const shared = sharedDir("batch");
    const line = (i: number) =>
      JSON.stringify({ id: i, backend: "chroot", filesystem_root: rootfs, tmpfs: ["/tmp"], bind: [`${shared}:/x`], command: ["sh", "-c", `echo ${i} > /tmp/mine; touch /x/up-${i}; while [ ! -e /x/go ]; do sleep 0.02; done; cat /tmp/mine`] });
    const proc = Bun.spawn([BIN, "batch", "--jobs", "4"], { stdin: Buffer.from(`${[0, 1, 2, 3].map(line).join("\n")}\n`), stdout: "pipe", stderr: "pipe" });
    await eventually(() => readdirSync(shared).filter((f) => f.startsWith("up-")).length === 4, "four sandboxes up at once");
    expect(mountsUnder(rootfs)).toEqual([]);
    writeFileSync(join(shared, "go"), "");
    const { code, stdout, stderr } = await outcome(proc);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout.trim().split("\n").map((l) => JSON.parse(l)).map((r) => [r.id, r.exit_code, r.stdout])).toEqual([0, 1, 2, 3].map((i) => [i, 0, `${i}\n`]));
    expect(mountsUnder(rootfs)).toEqual([]);
  });

  test("SIGKILL of sandboxlib mid-run: the sandbox's mount namespace dies with its processes; nothing on the host", async () => {
    const shared = sharedDir("sigkill-mounts");
    const [a, b] = [marker(), marker()];
    const proc = Bun.spawn(chroot(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", `${shared}:/x`, "sh", "-c",
      `readlink /proc/self/ns/mnt > /x/ns; setsid sh -c 'sleep ${a} &'; touch /x/up; exec sleep ${b}`]), { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    await eventually(() => existsSync(join(shared, "up")) && sleepers(a).length === 1 && sleepers(b).length === 1, "the sandbox runs");
    const ns = readFileSync(join(shared, "ns"), "utf8").trim();
    expect(ns).not.toBe(readlinkSync("/proc/self/ns/mnt"));
    expect(processesIn(ns).length).toBeGreaterThanOrEqual(3); // init, command, daemon
    expect(mountsUnder(rootfs)).toEqual([]);
    proc.kill("SIGKILL");
    await proc.exited;
    await eventually(() => processesIn(ns).length === 0, "no process left in the sandbox's mount namespace");
    expect([sleepers(a), sleepers(b)]).toEqual([[], []]);
    expect(mountsUnder(rootfs)).toEqual([]);
  });
});

/**
 * What the command leaves behind: a child that left the session
 * (`setsid sh -c 'sleep A &'`) and a double-forked daemon
 * (`(setsid sleep B &)`), both orphans, plus a plain background child.
 */
const leftovers = (a: string, b: string, c: string) => `setsid sh -c 'sleep ${a} &'; (setsid sleep ${b} &); sleep ${c} &`;

for (const variant of [
  { name: "without mounts", args: [] as string[], inside: "/tmp", host: () => join(rootfs, "tmp") },
  { name: "with mounts", args: ["--dev", "/dev", "--tmpfs", "/tmp"], inside: "/x", host: () => "" },
]) {
  describe.skipIf(!isRoot)(`chroot backend ${variant.name}: what the command leaves running dies`, () => {
    /** Starts a sandbox that leaves three sleepers and waits for `go`; resolves once they all run. */
    async function start(tag: string, then = "", options: string[] = []) {
      const host = variant.host() || sharedDir(tag);
      const bind = variant.args.length ? ["--bind", `${host}:/x`] : [];
      const marks = [marker(), marker(), marker()] as const;
      const go = `go-${tag}-${marks[0]}`;
      const script = `${leftovers(...marks)} while [ ! -e ${variant.inside}/${go} ]; do sleep 0.02; done; ${then}`;
      const proc = Bun.spawn(chroot([...variant.args, ...bind, ...options, "sh", "-c", script]), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      await eventually(() => marks.every((m) => sleepers(m).length === 1), "the command's leftovers run");
      return { proc, marks, release: () => writeFileSync(join(host, go), "") };
    }

    test("they are gone when sandboxlib returns after a normal exit", async () => {
      const { proc, marks, release } = await start("exit", "echo done");
      release();
      expect(await outcome(proc)).toEqual({ code: 0, stdout: "done\n", stderr: "" });
      expect(marks.map(sleepers)).toEqual([[], [], []]);
    });

    test("they are gone after SIGKILL of sandboxlib", async () => {
      const { proc, marks } = await start("sigkill");
      proc.kill("SIGKILL");
      await proc.exited;
      await eventually(() => marks.every((m) => sleepers(m).length === 0), "every leftover died with sandboxlib");
      expect(mountsUnder(rootfs)).toEqual([]);
    });

    test("they are gone when sandboxlib returns after a timeout ended the command", async () => {
      const { proc, marks } = await start("timeout", "", ["--timeout", "2"]);
      const r = await outcome(proc);
      expect(r.code).toBe(124);
      expect(marks.map(sleepers)).toEqual([[], [], []]);
    });
  });
}

describe.skipIf(!isRoot)("chroot backend: its init", () => {
  test("without mounts no namespace is created: the command and its init are in the host's mount namespace", async () => {
    const go = join(rootfs, "tmp", "go-nons");
    const proc = Bun.spawn(chroot(["sh", "-c", "echo $$ > /tmp/pid-nons; while [ ! -e /tmp/go-nons ]; do sleep 0.02; done"]), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    try {
      await eventually(() => existsSync(join(rootfs, "tmp/pid-nons")), "the command runs");
      const pid = readFileSync(join(rootfs, "tmp/pid-nons"), "utf8").trim();
      const init = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]!;
      const host = readlinkSync("/proc/self/ns/mnt");
      expect([readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync(`/proc/${init}/ns/mnt`)]).toEqual([host, host]);
      // The init is sandboxlib-init, sandboxlib's child, outside the chroot.
      expect(readFileSync(`/proc/${init}/cmdline`, "utf8").split("\0")[0]).toBe("sandboxlib-init");
      expect(readlinkSync(`/proc/${init}/root`)).toBe("/");
      expect(readlinkSync(`/proc/${pid}/root`)).toBe(rootfs);
    } finally {
      writeFileSync(go, "");
    }
    expect(await outcome(proc)).toEqual({ code: 0, stdout: "", stderr: "" });
    rmSync(go);
    rmSync(join(rootfs, "tmp/pid-nons"));
  });

  test("with mounts, the command and its init share a mount namespace of their own", async () => {
    const shared = sharedDir("ns");
    const proc = Bun.spawn(chroot(["--tmpfs", "/tmp", "--bind", `${shared}:/x`, "sh", "-c", "echo $$ $PPID > /x/pids; while [ ! -e /x/go ]; do sleep 0.02; done"]), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    try {
      await eventually(() => existsSync(join(shared, "pids")), "the command runs");
      const [pid, init] = readFileSync(join(shared, "pids"), "utf8").trim().split(" ");
      const [own, its] = [readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync(`/proc/${init}/ns/mnt`)];
      expect(own).toBe(its);
      expect(own).not.toBe(readlinkSync("/proc/self/ns/mnt"));
      expect(readlinkSync(`/proc/${init}/root`)).toBe("/");
    } finally {
      writeFileSync(join(shared, "go"), "");
    }
    expect(await outcome(proc)).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test("the init keeps only CAP_KILL and is not dumpable", async () => {
    const r = await run(["--proc", "/proc", "sh", "-c", "grep -E '^Cap(Prm|Eff|Bnd):' /proc/$PPID/status | tr -s '\\t' ' '; cat /proc/$PPID/mem 2>&1 >/dev/null | grep -c 'Permission denied'"]);
    expect(r.stdout).toBe("CapPrm: 0000000000000020\nCapEff: 0000000000000020\nCapBnd: 0000000000000020\n1\n");
  });

  test("the command's status and signals come through the init", async () => {
    expect((await run(["sh", "-c", "exit 42"])).code).toBe(42);
    expect((await run(["sh", "-c", "kill -TERM $$"])).code).toBe(143);
    expect((await run(["sh", "-c", "kill -KILL $$"])).code).toBe(137);
  });

  test("root inside killing its init: sandboxlib kills what is in the sandbox's mount namespace itself", async () => {
    const marks = [marker(), marker(), marker()] as const;
    const r = await run(["--tmpfs", "/tmp", "--dev", "/dev", "sh", "-c", `${leftovers(...marks)} sleep 0.2; kill -KILL $PPID; sleep 5`]);
    expect(r.code).toBe(137);
    await eventually(() => marks.every((m) => sleepers(m).length === 0), "every leftover killed");
  });

  test("root inside killing its init, without mounts: sandboxlib kills the command's session", async () => {
    const [inSession] = [marker()];
    const r = await run(["sh", "-c", `sleep ${inSession} & sleep 0.2; kill -KILL $PPID; sleep 5`]);
    expect(r.code).toBe(137);
    await eventually(() => sleepers(inSession).length === 0, "the session's processes killed");
  });
});

describe.skipIf(!isRoot)("chroot backend: root inside stays inside", () => {
  test("control: the fixture does leave a plain chroot(1)", () => {
    const r = Bun.spawnSync(["chroot", rootfs, "/bin/chroot-escape"], { stdout: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString().split("\n")).toContain(rootfs.split("/")[1]!); // the host's /tmp, not the root's
    rmSync(join(rootfs, "tmp/escape"), { recursive: true, force: true });
  });

  for (const args of [[], ["--tmpfs", "/tmp"]]) {
    test(`the classic chroot escape fails: no CAP_SYS_CHROOT${args.length ? " (with mounts)" : ""}`, async () => {
      expect(await run([...args, "/bin/chroot-escape"])).toEqual({ code: 2, stdout: "", stderr: "chroot: Operation not permitted\n" });
      rmSync(join(rootfs, "tmp/escape"), { recursive: true, force: true });
    });
  }

  test("--cap-add SYS_CHROOT is refused (125), on the command line, in a config and in batch", async () => {
    const message = "sandboxlib: capability SYS_CHROOT is not supported by the chroot backend (with it, root inside leaves the chroot; use the linux backend)\n";
    expect(await run(["--cap-add", "SYS_CHROOT", "/bin/chroot-escape"])).toEqual({ code: 125, stdout: "", stderr: message });
    expect(await run(["--cap-drop", "ALL", "--cap-add", "cap_sys_chroot", "true"])).toEqual({ code: 125, stdout: "", stderr: message });
    const config = JSON.stringify({ backend: "chroot", filesystem_root: rootfs, command: ["true"], "cap-add": ["SYS_CHROOT"] });
    expect(await runCli(["run", "--config", "-"], { stdin: config })).toEqual({ code: 125, stdout: "", stderr: message });
    const batch = await runCli(["batch"], { stdin: `${config}\n` });
    expect(JSON.parse(batch.stdout)).toMatchObject({ exit_code: 125, setup_failed: true, error: `line 1: ${message.slice("sandboxlib: ".length, -1)}` });
    expect(existsSync(join(rootfs, "tmp/escape"))).toBe(false);
  });
});
