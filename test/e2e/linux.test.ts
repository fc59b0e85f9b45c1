// The linux backend end to end (compiled executable, busybox rootfs, root):
// namespaces, the init, read-only paths, /dev, network isolation, escapes,
// and that nothing of a sandbox is ever visible on or left on the host.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, runCli } from "../helpers/cli.ts";
import { eventually } from "../helpers/wait.ts";
import { buildFixture, sleepers } from "../helpers/fixtures.ts";
import { hostMountinfo, isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("linux.test.ts");

let rootfs = "";
let scratch = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-linux-"));
  buildFixture("chroot-escape", rootfs);
  symlinkSync("/nonexistent/dir", join(rootfs, "dangling"));
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(scratch, { recursive: true, force: true });
});

const run = (args: string[], opts?: Parameters<typeof runCli>[1]) => runCli(["run", "--backend", "linux", "--root", rootfs, ...args], opts);


describe.skipIf(!isRoot)("namespaces and the init", () => {
  test("new mount, PID, IPC and UTS namespaces; network only when isolated", async () => {
    const kinds = ["mnt", "pid", "ipc", "uts", "net"];
    const inside = await run(["--proc", "/proc", "sh", "-c", kinds.map((k) => `readlink /proc/self/ns/${k}`).join(";")]);
    const host = kinds.map((k) => readlinkSync(`/proc/self/ns/${k}`));
    const seen = inside.stdout.trim().split("\n");
    expect(seen.slice(0, 4).every((ns, i) => ns !== host[i])).toBe(true);
    expect(seen[4]).toBe(host[4]);
    const isolated = await run(["--proc", "/proc", "--network", "isolated", "readlink", "/proc/self/ns/net"]);
    expect(isolated.stdout.trim()).not.toBe(host[4]);
  });

  test("hostname is 'sandbox' unless --hostname says otherwise", async () => {
    expect((await run(["hostname"])).stdout).toBe("sandbox\n");
    expect((await run(["--hostname", "builder-7", "hostname"])).stdout).toBe("builder-7\n");
  });

  test("the command is PID 3, a child of the init (PID 2 was its launcher); proc shows only the sandbox's processes", async () => {
    const r = await run(["--proc", "/proc", "sh", "-c", 'echo $$ $PPID; ls /proc | grep -E "^[0-9]+$" | sort -n | tr "\\n" " "']);
    const [self, pids] = r.stdout.split("\n");
    expect(self).toBe("3 1");
    const numbers = pids!.trim().split(" ").map(Number);
    expect(numbers[0]).toBe(1);
    expect(numbers).toContain(3);
    expect(Math.max(...numbers)).toBeLessThan(10);
  });

  test("the init exits with the command's status, signals included", async () => {
    expect((await run(["sh", "-c", "exit 42"])).code).toBe(42);
    expect((await run(["sh", "-c", "kill -ABRT $$"])).code).toBe(134);
    expect((await run(["sh", "-c", "kill -TERM $$"])).code).toBe(143);
    expect((await run(["sh", "-c", "kill -KILL $$"])).code).toBe(137);
  });

  test("what the command leaves running is killed when it exits", async () => {
    const r = await run(["--dev", "/dev", "sh", "-c", "sleep 987651 & sleep 987651 & echo started"]);
    expect(r).toEqual({ code: 0, stdout: "started\n", stderr: "" });
    expect(sleepers("987651")).toEqual([]);
  });

  test("orphans are reaped while the command runs", async () => {
    // Three grandchildren exit while the command sleeps; none stays a zombie.
    const r = await run(["--dev", "/dev", "--proc", "/proc", "sh", "-c", "(true &) ; (true &) ; (true &) ; sleep 0.3; grep -l zombie /proc/[0-9]*/status | wc -l"]);
    expect(r.stdout.trim()).toBe("0");
  });
});

describe.skipIf(!isRoot)("root cannot get out", () => {
  test("the classic chroot escape finds only the sandbox's root", async () => {
    const inside = (await run(["ls", "/"])).stdout.split("\n").filter(Boolean).sort();
    const escaped = await run(["/bin/chroot-escape"]);
    expect(escaped.code).toBe(0);
    expect(escaped.stdout.split("\n").filter(Boolean).sort()).toEqual(inside);
  });

  test("control: the same escape does get out of a plain chroot(1)", () => {
    const escaped = Bun.spawnSync(["chroot", rootfs, "/bin/chroot-escape"], { stdout: "pipe" });
    expect(escaped.exitCode).toBe(0);
    expect(escaped.stdout.toString().split("\n")).toContain(rootfs.split("/")[1]!); // the host's /tmp, not the sandbox's
    rmSync(join(rootfs, "tmp/escape"), { recursive: true, force: true });
  });

  test("no trace of the old root: only the sandbox's mounts, '..' of / is /", async () => {
    const r = await run(["--proc", "/proc", "sh", "-c", "cut -d' ' -f5 /proc/self/mountinfo; ls /.. | tr '\\n' ' '"]);
    const lines = r.stdout.trim().split("\n");
    // Below /proc: its masks and read-only files (proc-dev.test.ts).
    expect(lines.slice(0, -1).filter((point) => !point.startsWith("/proc/"))).toEqual(["/", "/proc"]);
    expect(lines.at(-1)!.trim()).toBe((await run(["sh", "-c", "ls / | tr '\\n' ' '"])).stdout.trim());
  });
});

describe.skipIf(!isRoot)("writable paths", () => {
  const canWrite = (path: string) => ["sh", "-c", `(exec 2>&-; echo x > ${path}) && echo yes || echo no`];

  test("--read-only: the root and every mount under it are read-only", async () => {
    expect((await run(["--read-only", ...canWrite("/etc/x")])).stdout).toBe("no\n");
    expect((await run(["--read-only", "--tmpfs", "/tmp", ...canWrite("/tmp/x")])).stdout).toBe("no\n");
    expect((await run(["--read-only", "--bind", `${scratch}:/scratch`, ...canWrite("/scratch/x")])).stdout).toBe("no\n");
    expect(existsSync(join(scratch, "x"))).toBe(false);
  });

  test("a listed path is writable, submounts included, and nothing else", async () => {
    expect((await run(["--writable", "/tmp", "--tmpfs", "/tmp", ...canWrite("/tmp/x")])).stdout).toBe("yes\n");
    expect((await run(["--writable", "/scratch", "--bind", `${scratch}:/scratch`, ...canWrite("/scratch/x")])).stdout).toBe("yes\n");
    expect(readFileSync(join(scratch, "x"), "utf8")).toBe("x\n");
    expect((await run(["--writable", "/tmp", ...canWrite("/etc/x")])).stdout).toBe("no\n");
  });

  test("a read-only bind under a writable path stays read-only", async () => {
    const r = await run(["--writable", "/data", "--ro-bind", `${scratch}:/data/ro`, "sh", "-c",
      "(exec 2>&-; echo x > /data/ok) && echo data-yes; (exec 2>&-; echo x > /data/ro/no) || echo ro-no"]);
    expect(r.stdout).toBe("data-yes\nro-no\n");
    rmSync(join(rootfs, "data/ok"), { force: true });
  });

  test("a missing --writable path is an error naming it; --writable-create makes it, and it stays", async () => {
    expect(await run(["--writable", "/biuld/out", "true"])).toEqual({
      code: 125,
      stdout: "",
      stderr: "sandboxlib: cannot bind writable path /biuld/out: No such file or directory (a writable path must exist in the root; --writable-create creates it)\n",
    });
    expect(existsSync(join(rootfs, "biuld"))).toBe(false);
    const r = await run(["--writable-create", "/biuld/out", "sh", "-c", "echo built > /biuld/out/a && stat -c %a /biuld/out; (exec 2>&-; echo x > /biuld/b) || echo parent-read-only"]);
    expect(r).toEqual({ code: 0, stdout: "755\nparent-read-only\n", stderr: "" });
    expect(readFileSync(join(rootfs, "biuld/out/a"), "utf8")).toBe("built\n");
    // Created on purpose, not a mount point: an empty one stays too, and an existing one is used as it is.
    rmSync(join(rootfs, "biuld/out/a"));
    expect((await run(["--writable-create", "/biuld/out", ...canWrite("/biuld/out/c")])).stdout).toBe("yes\n");
    expect(readFileSync(join(rootfs, "biuld/out/c"), "utf8")).toBe("x\n");
    expect((await run(["--writable-create", "/biuld/empty", "true"])).code).toBe(0);
    expect(existsSync(join(rootfs, "biuld/empty"))).toBe(true);
    rmSync(join(rootfs, "biuld"), { recursive: true });
  });

  test("--writable-create follows no dangling symlink: neither out of the root nor to make its destination", async () => {
    symlinkSync("../../../../tmp/sandboxlib-escaped", join(rootfs, "outlink"));
    try {
      expect(await run(["--writable-create", "/outlink/x", "true"])).toEqual({
        code: 125,
        stdout: "",
        stderr: "sandboxlib: cannot create writable path /outlink/x: /outlink is a symlink (to ../../../../tmp/sandboxlib-escaped) whose target does not exist inside the root\n",
      });
      expect(existsSync("/tmp/sandboxlib-escaped")).toBe(false);
      expect(existsSync(join(rootfs, "tmp/sandboxlib-escaped"))).toBe(false);
    } finally {
      rmSync(join(rootfs, "outlink"));
    }
  });

  test("--ro-bind is read-only even when everything is writable", async () => {
    expect((await run(["--ro-bind", `${scratch}:/scratch`, ...canWrite("/scratch/y")])).stdout).toBe("no\n");
  });
});

describe.skipIf(!isRoot)("mounts", () => {
  test("tmpfs honours size= and mode=", async () => {
    const r = await run(["--dev", "/dev", "--mount", "none:/t:tmpfs:size=1m,mode=700", "sh", "-c",
      "stat -c %a /t; dd if=/dev/zero of=/t/big bs=1024 count=2048 2>/dev/null && echo fits || echo full"]);
    expect(r.stdout).toBe("700\nfull\n");
  });

  test("sysfs, and devtmpfs when asked for", async () => {
    const sys = await run(["--network", "isolated", "--mount", "none:/sys:sysfs", "ls", "/sys/class/net"]);
    expect(sys.stdout).toBe("lo\n");
    const dev = await run(["--mount", "none:/hostdev:devtmpfs", "test", "-c", "/hostdev/null"]);
    expect(dev.code).toBe(0);
  });

  test("--dev is a minimal /dev: safe nodes, pts, shm and links; no disks", async () => {
    const r = await run(["--read-only", "--dev", "/dev", "sh", "-c", "ls /dev | tr '\\n' ' '; stat -c %a /dev/null; echo x > /dev/null && echo null-writable"]);
    expect(r.stdout).toBe("fd full null ptmx pts random shm stderr stdin stdout tty urandom zero 666\nnull-writable\n");
  });

  test("a dangling symlink as a mount target is refused clearly: the message names the symlink and why", async () => {
    const r = await run(["--tmpfs", "/dangling", "true"]);
    expect(r).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: cannot create mount point /dangling: it is a symlink (to /nonexistent/dir) whose target does not exist inside the root\n" });
    expect(existsSync("/nonexistent")).toBe(false);
    // Relative, climbing out of the root: resolved inside it, and named as written.
    symlinkSync("../../etc/x", join(rootfs, "evil"));
    try {
      const below = await run(["--tmpfs", "/evil/sub", "true"]);
      expect(below.stderr).toBe("sandboxlib: cannot create mount point /evil/sub: /evil is a symlink (to ../../etc/x) whose target does not exist inside the root\n");
      const json = JSON.parse((await run(["--json", "--tmpfs", "/evil", "true"])).stdout);
      expect(json.error).toBe("cannot create mount point /evil: it is a symlink (to ../../etc/x) whose target does not exist inside the root");
    } finally {
      rmSync(join(rootfs, "evil"));
    }
  });
});

describe.skipIf(!isRoot)("network isolation", () => {
  test("only lo, and it is up: 127.0.0.1 works inside", async () => {
    const r = await run(["--network", "isolated", "--dev", "/dev", "sh", "-c",
      "nc -l -p 5555 > /tmp/got & sleep 0.3; echo ping | nc 127.0.0.1 5555; wait; cat /tmp/got; rm /tmp/got"]);
    expect(r.stdout).toBe("ping\n");
  });

  test("nothing on the host's loopback is reachable (and, as a control, it is without isolation)", async () => {
    let connections = 0;
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void connections++, data() {} } });
    try {
      const probe = ["sh", "-c", `echo x | nc -w 2 127.0.0.1 ${server.port} && echo reached || echo unreachable`];
      expect((await run(["--network", "isolated", ...probe])).stdout).toBe("unreachable\n");
      expect(connections).toBe(0);
      expect((await run(probe)).stdout).toBe("reached\n");
      expect(connections).toBe(1);
    } finally {
      server.stop(true);
    }
  });
});

describe.skipIf(!isRoot)("nothing visible on or left on the host", () => {
  test("SIGKILL of sandboxlib mid-run leaves no process and no mount", async () => {
    const before = hostMountinfo();
    const started = join(scratch, "killed.started");
    const proc = Bun.spawn([BIN, "run", "--backend", "linux", "--root", rootfs, "--proc", "/proc", "--tmpfs", "/tmp", "--bind", `${scratch}:/scratch`,
      "--dev", "/dev", "sh", "-c", "sleep 987652 & touch /scratch/killed.started; sleep 987652"], { stdout: "ignore", stderr: "ignore" });
    try {
      await eventually(() => existsSync(started), "the sandbox started");
      expect(sleepers("987652").length).toBe(2);
      expect(hostMountinfo()).toBe(before);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    await eventually(() => sleepers("987652").length === 0, "every process of the sandbox died");
    expect(hostMountinfo()).toBe(before);
    // The mount point it created is journaled: the next run on the root removes it.
    expect(existsSync(join(rootfs, "scratch"))).toBe(true);
    expect((await run(["true"])).code).toBe(0);
    expect(existsSync(join(rootfs, "scratch"))).toBe(false);
  });

  test("created mount points are removed, including files for file binds; what existed stays", async () => {
    const file = join(scratch, "a-file");
    await Bun.write(file, "content\n");
    const r = await run(["--tmpfs", "/made/deep/dir", "--bind", `${file}:/etc/bound-file`, "cat", "/etc/bound-file"]);
    expect(r.stdout).toBe("content\n");
    expect(existsSync(join(rootfs, "made"))).toBe(false);
    expect(existsSync(join(rootfs, "etc/bound-file"))).toBe(false);
    expect(existsSync(join(rootfs, "etc"))).toBe(true);
  });

  test("50 sandboxes started concurrently on the same rootfs all succeed and leave nothing behind", async () => {
    const before = hostMountinfo();
    const runs = Array.from({ length: 50 }, (_, i) =>
      run(["--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/conc/created", "--read-only", "--network", "isolated", "sh", "-c", `echo ${i} $$ $(hostname)`]),
    );
    const results = await Promise.all(runs);
    results.forEach((r, i) => expect(r).toEqual({ code: 0, stdout: `${i} 3 sandbox\n`, stderr: "" }));
    expect(hostMountinfo()).toBe(before);
    expect(existsSync(join(rootfs, "conc"))).toBe(false);
  });
});

describe.skipIf(!isRoot)("library hooks", () => {
  test("onStart gets the pid once the command runs, onExit comes once it is gone and before the result", async () => {
    const { getExecutor } = await import("../../src/index.ts");
    const events: string[] = [];
    const result = await getExecutor("linux").runSandbox(["sh", "-c", "echo hi"], {
      filesystemRoot: rootfs,
      onStart: (pid) => events.push(`start ${pid > 0}`),
      onExit: () => events.push("exit"),
    });
    events.push("result");
    expect(events).toEqual(["start true", "exit", "result"]);
    expect(new TextDecoder().decode(result.stdout!)).toBe("hi\n");
  });
});
