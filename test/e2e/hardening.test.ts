// Process control and hardening (compiled executable, busybox rootfs, root):
// signals, timeouts, dying with sandboxlib, no leaked descriptors or
// terminal, privileges, seccomp, rlimits, cgroup limits, status reports.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, runCli } from "../helpers/cli.ts";
import { eventually } from "../helpers/wait.ts";
import { buildFixture, sleepers } from "../helpers/fixtures.ts";
import { isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("hardening.test.ts");

let rootfs = "";
let scratch = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-hard-"));
  buildFixture("syscall-probe", rootfs);
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(scratch, { recursive: true, force: true });
});


/**
 * Starts sandboxlib in the background; resolves once the command wrote its
 * marker into the root's /tmp. No mounts: the chroot backend cannot undo
 * them when sandboxlib is killed.
 */
async function startSandbox(backend: string, args: string[], script: string, marker: string) {
  const proc = Bun.spawn([BIN, "run", "--backend", backend, "--root", rootfs, ...args, "sh", "-c", script], { stdout: "pipe", stderr: "pipe" });
  await eventually(() => existsSync(join(rootfs, "tmp", marker)), `${marker} written`);
  return proc;
}

const BACKENDS = ["linux", "chroot"] as const;

for (const backend of BACKENDS) {
  const run = (args: string[], opts?: Parameters<typeof runCli>[1]) => runCli(["run", "--backend", backend, "--root", rootfs, ...args], opts);

  describe.skipIf(!isRoot)(`${backend}: signals and exit`, () => {
    for (const [signal, number] of [["SIGTERM", 15], ["SIGINT", 2], ["SIGHUP", 1], ["SIGQUIT", 3], ["SIGUSR1", 10], ["SIGUSR2", 12]] as const) {
      test(`${signal} to sandboxlib is forwarded to the command, which traps it and exits 17`, async () => {
        const marker = `${backend}-trap-${signal}`;
        const name = signal.slice(3);
        const proc = await startSandbox(backend, [], `trap 'echo got ${name}; exit 17' ${name}; touch /tmp/${marker}; while :; do sleep 0.05; done`, marker);
        proc.kill(number);
        expect(await proc.exited).toBe(17);
        expect(await new Response(proc.stdout).text()).toBe(`got ${name}\n`);
      });
    }

    test("what the command leaves running is killed when it exits", async () => {
      const r = await run(["--dev", "/dev", "sh", "-c", "sleep 987655 & sleep 987655 & echo started"]);
      expect(r).toEqual({ code: 0, stdout: "started\n", stderr: "" });
      expect(sleepers("987655")).toEqual([]);
    });

    test("a command killed by a signal gives 128+N (143, 137)", async () => {
      expect((await run(["sh", "-c", "kill -TERM $$"])).code).toBe(143);
      expect((await run(["sh", "-c", "kill -KILL $$"])).code).toBe(137);
    });
  });

  describe.skipIf(!isRoot)(`${backend}: timeouts`, () => {
    test("--timeout keeps what was written before the deadline, exits 124", async () => {
      const r = await run(["--timeout", "0.5", "sh", "-c", "echo before; sleep 5; echo after"]);
      expect(r.code).toBe(124);
      expect(r.stdout).toBe("before\n");
      expect(r.stderr).toBe("sandboxlib: the command timed out after 0.5s\n");
    });

    test("a command that ignores SIGTERM is killed after --kill-after (137)", async () => {
      const r = await run(["--timeout", "0.3", "--kill-after", "0.3", "sh", "-c", "trap '' TERM; echo before; sleep 5; echo after"]);
      expect(r.code).toBe(137);
      expect(r.stdout).toBe("before\n");
    });

    test("zero, negative and non-numeric values are usage errors", async () => {
      for (const bad of ["0", "-1", "abc", "1e3x", ""]) {
        const r = await run(["--timeout", bad, "true"]);
        expect(r.code).toBe(125);
        expect(r.stderr).toBe(`sandboxlib: invalid value for --timeout: ${bad} (expected a positive number of seconds)\n`);
      }
      expect((await run(["--kill-after", "0", "true"])).stderr).toStartWith("sandboxlib: invalid value for --kill-after: 0");
    });
  });

  describe.skipIf(!isRoot)(`${backend}: nothing leaks into the sandbox`, () => {
    test("only 0, 1 and 2 are open inside even when the caller holds fd 7; --pass-fd 7 keeps it", async () => {
      const file = openSync(join(scratch, "fd7"), "w");
      try {
        const spawnWith7 = (extra: string[]) =>
          Bun.spawn([BIN, "run", "--backend", backend, "--root", rootfs, ...extra, "/bin/syscall-probe", "fds"], {
            stdio: ["ignore", "pipe", "pipe", "ignore", "ignore", "ignore", "ignore", file],
          });
        const plain = spawnWith7([]);
        expect(await new Response(plain.stdout).text()).toBe("0\n1\n2\n");
        const passed = spawnWith7(["--pass-fd", "7"]);
        expect(await new Response(passed.stdout).text()).toBe("0\n1\n2\n7\n");
      } finally {
        closeSync(file);
      }
    });

    test("the command runs in a new session: TIOCSTI fails under a pty (and works when allowed)", async () => {
      const inPty = (args: string) => Bun.spawnSync(["script", "-qec", `${BIN} run --backend ${backend} --root ${rootfs} ${args} /bin/syscall-probe tiocsti64`, "/dev/null"]).stdout.toString();
      expect(inPty("")).toContain("EPERM");
      // Sharing the caller's session, the terminal is the command's own: only the
      // seccomp filter stands in the way (64-bit request, low 32 bits compared).
      expect(inPty("--share-session")).toContain("EPERM");
      expect(inPty("--share-session --seccomp off")).toContain("ok");
    });

    test("stdin is the caller's unless --stdin FILE|null", async () => {
      const input = join(scratch, "input.txt");
      await Bun.write(input, "from a file\n");
      expect((await run(["cat"], { stdin: "from the caller\n" })).stdout).toBe("from the caller\n");
      expect((await run(["--stdin", input, "cat"], { stdin: "ignored\n" })).stdout).toBe("from a file\n");
      expect((await run(["--stdin", "null", "cat"], { stdin: "ignored\n" })).stdout).toBe("");
      expect((await run(["--stdin", "/nonexistent", "cat"])).stderr).toBe("sandboxlib: cannot open stdin file: /nonexistent: No such file or directory\n");
    });
  });

  describe.skipIf(!isRoot)(`${backend}: privileges`, () => {
    const status = (args: string[]) => run(["--proc", "/proc", ...args, "sh", "-c", "grep -E '^(NoNewPrivs|CapBnd|CapEff|CapPrm|CapInh):' /proc/self/status | tr -s '\\t' ' '"]);

    test("no_new_privs; bounding and effective sets are Docker's default set without MKNOD (the chroot backend's without SYS_CHROOT too)", async () => {
      const set = backend === "chroot" ? "00000000a00025fb" : "00000000a00425fb";
      expect((await status([])).stdout).toBe(`CapInh: 0000000000000000\nCapPrm: ${set}\nCapEff: ${set}\nCapBnd: ${set}\nNoNewPrivs: 1\n`);
    });

    test("--cap-drop ALL gives zero; --cap-add adds one", async () => {
      expect((await status(["--cap-drop", "ALL"])).stdout).toBe(
        "CapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: 0000000000000000\nNoNewPrivs: 1\n",
      );
      const added = await status(["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"]);
      expect(added.stdout).toContain("CapEff: 0000000000001000\n");
      expect((await run(["--cap-add", "BOGUS", "true"])).stderr).toBe("sandboxlib: invalid value for --cap-add: BOGUS (unknown capability: BOGUS)\n");
    });

    test("--uid 65534 --gid 65534: that user, no capabilities, no supplementary groups", async () => {
      const r = await run(["--proc", "/proc", "--uid", "65534", "--gid", "65534", "sh", "-c", "id -u; id -g; id -G; grep CapEff /proc/self/status | tr -s '\\t' ' '"]);
      expect(r.stdout).toBe("65534\n65534\n65534\nCapEff: 0000000000000000\n");
      expect((await run(["--uid", "-1", "true"])).stderr).toStartWith("sandboxlib: invalid value for --uid: -1");
    });

    test("mount fails inside; the default filter refuses it with EPERM", async () => {
      expect((await run(["/bin/syscall-probe", "mount"])).stdout).toBe("EPERM\n");
    });
  });

  describe.skipIf(!isRoot)(`${backend}: seccomp`, () => {
    const probe = async (what: string, args: string[] = []) => (await run([...args, "/bin/syscall-probe", what])).stdout.trim();

    test("refused calls get EPERM; --seccomp off lets them through", async () => {
      expect(await probe("add_key")).toBe("EPERM");
      expect(await probe("add_key", ["--seccomp", "off"])).toBe("ok");
      expect(await probe("bpf")).toBe("EPERM");
    });

    test("no new user namespaces; clone3 reports ENOSYS so the C library falls back to clone", async () => {
      expect(await probe("unshare-user")).toBe("EPERM");
      // Control: without the filter it works (not in a chroot: the kernel refuses user namespaces there).
      if (backend === "linux") expect(await probe("unshare-user", ["--seccomp", "off"])).toBe("ok");
      expect(await probe("clone3")).toBe("ENOSYS");
      // fork still works (busybox sh forks for the pipeline).
      expect((await run(["sh", "-c", "echo a | cat"])).stdout).toBe("a\n");
    });

    test("a system call of another architecture kills the process (SIGSYS)", async () => {
      if (process.arch !== "x64") return; // the probe uses x86's int 0x80
      const r = await run(["/bin/syscall-probe", "int80"]);
      expect(r.code).toBe(128 + 31);
      expect(r.stdout).toBe("");
      expect((await run(["--seccomp", "off", "/bin/syscall-probe", "int80"])).stdout).toStartWith("ok ");
    });

    test("--seccomp takes on or off", async () => {
      expect((await run(["--seccomp", "maybe", "true"])).stderr).toBe("sandboxlib: invalid value for --seccomp: maybe (expected on or off)\n");
    });
  });

  describe.skipIf(!isRoot)(`${backend}: resource limits`, () => {
    test("--rlimit sets soft and hard limits", async () => {
      expect((await run(["--rlimit", "nofile=64", "sh", "-c", "ulimit -n; ulimit -Hn"])).stdout).toBe("64\n64\n");
      expect((await run(["--rlimit", "nofile=32:128", "sh", "-c", "ulimit -n; ulimit -Hn"])).stdout).toBe("32\n128\n");
      expect((await run(["--rlimit", "core=0", "sh", "-c", "ulimit -c"])).stdout).toBe("0\n");
      expect((await run(["--rlimit", "bogus=1", "true"])).stderr).toStartWith("sandboxlib: invalid value for --rlimit: bogus=1 (unknown rlimit: bogus");
      expect((await run(["--rlimit", "nofile=9:3", "true"])).stderr).toStartWith("sandboxlib: invalid value for --rlimit: nofile=9:3");
    });

    test("--pids 20 stops a fork bomb; the host survives and nothing is left", async () => {
      // The shell waits with builtins only: busybox sh exits when a fork of
      // its own fails (as one for `sleep` would, once the bomb fills the
      // limit first), which made this test depend on who forked first.
      const r = await run(["--pids", "20", "--timeout", "20", "sh", "-c", "bomb() { bomb | bomb & }; bomb; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo survived"]);
      expect(r.stdout).toBe("survived\n");
      expect(Bun.spawnSync(["true"]).exitCode).toBe(0);
    });

    test("process limits below 2 are refused (the command's launcher holds a slot while it starts it); 2 is enough to start", async () => {
      const pids = await run(["--pids", "1", "true"]);
      expect(pids.code).toBe(125);
      expect(pids.stderr).toBe("sandboxlib: invalid value for --pids: 1 (below the minimum of 2: the command's launcher holds one slot while it starts the command)\n");
      const nproc = await run(["--rlimit", "nproc=1", "true"]);
      expect(nproc.code).toBe(125);
      expect(nproc.stderr).toStartWith("sandboxlib: invalid value for --rlimit: nproc=1 (rlimit nproc: 1 is below the minimum of 2");
      expect(await run(["--pids", "2", "true"])).toEqual({ code: 0, stdout: "", stderr: "" });
    });

    test("an nproc rlimit counts the command's processes only: its launcher is gone before the command runs", async () => {
      // With the launcher still counted, sh's fork under nproc=2 failed
      // about one run in six. One at a time: the limit counts every process
      // of the user, on the whole host.
      for (let i = 0; i < 12; i++) {
        expect(await run(["--uid", "1000", "--rlimit", "nproc=2", "sh", "-c", "/bin/true && echo forked"])).toEqual({ code: 0, stdout: "forked\n", stderr: "" });
      }
    });

    // linux only: the chroot backend's launcher is a host process whose pid,
    // once reaped, may be another's.
    if (backend === "linux") test("a command that stops or kills its launcher (PID 2) cannot hold sandboxlib up", async () => {
      const script = "kill -STOP 2 2>/dev/null; kill -KILL 2 2>/dev/null; echo done";
      for (let i = 0; i < 5; i++) {
        const r = await run(["--timeout", "10", "sh", "-c", script]);
        expect(r.stdout).toBe("done\n");
      }
    });

    test("--pids: the command gets exactly N processes", async () => {
      // sh and six sleeps: seven processes fit in 7 (the init does not count), not in 6.
      const script = ["sh", "-c", "for i in 1 2 3 4 5 6; do sleep 987653 & done; echo all started"];
      expect(await run(["--dev", "/dev", "--pids", "7", ...script])).toEqual({ code: 0, stdout: "all started\n", stderr: "" });
      const short = await run(["--dev", "/dev", "--pids", "6", ...script]);
      expect(short.code).not.toBe(0);
      expect(short.stderr).toContain("can't fork");
      expect(sleepers("987653")).toEqual([]);
    });

    test("--memory 32M stops an allocation loop and reports it (137)", async () => {
      const r = await run(["--memory", "32M", "--json", "awk", "BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }"]);
      expect(r.code).toBe(137);
      expect(JSON.parse(r.stdout)).toMatchObject({ exit_code: 137, signal: 9, oom_killed: true, timed_out: false, setup_failed: false });
      expect(r.stderr).toBe("sandboxlib: the command was killed: out of memory (limit 33554432 bytes)\n");
    });

    test("--cpus and --memory accept their units; bad values name the option", async () => {
      expect((await run(["--cpus", "0.5", "--memory", "64m", "true"])).code).toBe(0);
      expect((await run(["--memory", "lots", "true"])).stderr).toStartWith("sandboxlib: invalid value for --memory: lots");
      expect((await run(["--pids", "0", "true"])).stderr).toStartWith("sandboxlib: invalid value for --pids: 0");
      expect((await run(["--cpus", "-2", "true"])).stderr).toStartWith("sandboxlib: invalid value for --cpus: -2");
    });

    test("the cgroup is removed afterwards", async () => {
      await run(["--pids", "10", "--memory", "16M", "true"]);
      const leftovers = ["pids", "memory", ""].flatMap((c) => {
        const dir = join("/sys/fs/cgroup", c, "sandboxlib");
        return existsSync(dir) ? readdirSync(dir) : [];
      });
      expect(leftovers.filter((name) => name.startsWith(`${process.pid}-`))).toEqual([]);
    });
  });

  describe.skipIf(!isRoot)(`${backend}: status for tools`, () => {
    const withStatusFd = async (args: string[]) => {
      const statusPath = join(scratch, `status-${backend}.jsonl`);
      const fd = openSync(statusPath, "w");
      const proc = Bun.spawn([BIN, "run", "--backend", backend, "--root", rootfs, "--status-fd", "5", ...args], {
        stdio: ["ignore", "pipe", "pipe", "ignore", "ignore", fd],
      });
      const code = await proc.exited;
      closeSync(fd);
      return { code, lines: readFileSync(statusPath, "utf8").trim().split("\n").map((l) => JSON.parse(l)) };
    };

    test("success: child_pid, then the result", async () => {
      const { code, lines } = await withStatusFd(["sh", "-c", "exit 3"]);
      expect(code).toBe(3);
      expect(lines.length).toBe(2);
      expect(Number.isInteger(lines[0].child_pid)).toBe(true);
      expect(lines[1]).toMatchObject({ exit_code: 3, signal: null, setup_failed: false, timed_out: false, oom_killed: false });
      for (const key of ["wall_ms", "user_ms", "sys_ms"]) expect(typeof lines[1][key]).toBe("number");
      // The command's own peak, small (see cgroups.test.ts).
      expect(lines[1].max_rss_kb).toBeGreaterThan(0);
      expect(lines[1].max_rss_kb).toBeLessThan(8 * 1024);
    });

    test("failure by a signal", async () => {
      const { lines } = await withStatusFd(["sh", "-c", "kill -TERM $$"]);
      expect(lines[1]).toMatchObject({ exit_code: 143, signal: 15, setup_failed: false });
    });

    test("setup failure says which step and why", async () => {
      const { code, lines } = await withStatusFd(["--cwd", "/nonexistent", "true"]);
      expect(code).toBe(125);
      expect(lines).toEqual([
        expect.objectContaining({
          exit_code: 125,
          setup_failed: true,
          step: "change directory to /nonexistent",
          error: "cannot change directory to /nonexistent: No such file or directory",
        }),
      ]);
    });

    test("timeout", async () => {
      const { code, lines } = await withStatusFd(["--timeout", "0.2", "sleep", "5"]);
      expect(code).toBe(124);
      expect(lines[1]).toMatchObject({ exit_code: 124, timed_out: true });
    });

    test("--json includes the same fields", async () => {
      const r = await run(["--json", "sh", "-c", "echo out"]);
      expect(Object.keys(JSON.parse(r.stdout)).sort()).toEqual(
        ["exit_code", "signal", "setup_failed", "failure", "timed_out", "oom_killed", "wall_ms", "user_ms", "sys_ms", "max_rss_kb", "cgroup_peak_kb", "stdout", "stderr"].sort(),
      );
    });

    test("--status-fd must be open", async () => {
      expect((await run(["--status-fd", "42", "true"])).stderr).toBe("sandboxlib: invalid value for --status-fd: 42 (not an open file descriptor)\n");
    });
  });
}

describe.skipIf(!isRoot)("never outliving the caller", () => {
  for (const backend of BACKENDS) {
    test(`${backend}: SIGKILL of sandboxlib kills the sandbox`, async () => {
      const marker = `${backend}-orphan.started`;
      const proc = await startSandbox(backend, [], `touch /tmp/${marker}; sleep 987654`, marker);
      proc.kill("SIGKILL");
      await proc.exited;
      await eventually(() => sleepers("987654").length === 0, "the sandboxed command died with sandboxlib");
    });
  }

  test("linux: PID 1 is sandboxlib-init, sharing nothing with sandboxlib, with only CAP_KILL", async () => {
    const r = await runCli(["run", "--backend", "linux", "--root", rootfs, "--proc", "/proc", "--cap-add", "SYS_PTRACE", "sh", "-c",
      "tr '\\0' ' ' < /proc/1/cmdline; echo; grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/1/status | tr -s '\\t' ' '; ls /proc/1/fd | wc -l"]);
    // Its arguments: the command process (2, the launcher), no parent to
    // watch (0: PID 1), the command's process group (2, its session).
    expect(r).toEqual({ code: 0, stdout: "sandboxlib-init 2 0 2 \nCapEff: 0000000000000020\nCapBnd: 0000000000000020\nNoNewPrivs: 1\n1\n", stderr: "" }); // one fd: the status pipe
  });
});
