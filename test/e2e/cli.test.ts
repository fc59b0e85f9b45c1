// The compiled executable end to end, as a build engineer runs it, for both
// backends: output, exit statuses, errors, mounts and their cleanup.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, runCli } from "../helpers/cli.ts";
import { eventually } from "../helpers/wait.ts";
import { hostMountinfo, isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("cli.test.ts");

let rootfs = "";
let scratch = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-cli-"));
  writeFileSync(join(rootfs, "bin/not-executable"), "#!/bin/sh\necho no\n");
  chmodSync(join(rootfs, "bin/not-executable"), 0o644);
  symlinkSync("/etc", join(rootfs, "lib"));
  symlinkSync("../../../../..", join(rootfs, "up"));
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(scratch, { recursive: true, force: true });
});


describe.skipIf(!isRoot)("command line, both backends", () => {
  for (const backend of ["chroot", "linux"]) {
    const run = (args: string[], opts?: Parameters<typeof runCli>[1]) => runCli(["run", "--backend", backend, "--root", rootfs, ...args], opts);

    describe(backend, () => {
      test("output goes to sandboxlib's stdout and stderr; exit status is the command's", async () => {
        expect(await run(["--", "echo", "xyzzy"])).toEqual({ code: 0, stdout: "xyzzy\n", stderr: "" });
        expect(await run(["sh", "-c", "echo out; echo 'Oh no!' >&2; exit 11"])).toEqual({ code: 11, stdout: "out\n", stderr: "Oh no!\n" });
      });

      test("--stdout and --stderr write files; --stderr stdout merges", async () => {
        const out = join(scratch, `${backend}.out`);
        const err = join(scratch, `${backend}.err`);
        const cmd = ["sh", "-c", "echo abcde; echo xyzzy >&2"];
        expect((await run(["--stdout", out, "--stderr", err, ...cmd])).code).toBe(0);
        expect([readFileSync(out, "utf8"), readFileSync(err, "utf8")]).toEqual(["abcde\n", "xyzzy\n"]);
        expect((await run(["--stdout", out, "--stderr", "stdout", ...cmd])).code).toBe(0);
        expect(readFileSync(out, "utf8")).toBe("abcde\nxyzzy\n");
      });

      test("--json captures both streams", async () => {
        const r = await run(["--json", "sh", "-c", "printf out; printf err >&2; exit 3"]);
        expect(r.code).toBe(3);
        expect(JSON.parse(r.stdout)).toMatchObject({ exit_code: 3, signal: null, stdout: "out", stderr: "err" });
      });

      test("the caller's .env and bunfig.toml are not read: the environment is the caller's", async () => {
        const dir = mkdtempSync(join(scratch, "cwd-"));
        writeFileSync(join(dir, ".env"), "SANDBOXLIB_PROBE=from-dotenv\nSANDBOXLIB_BACKEND=nonexistent\n");
        writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./missing.ts"]\n');
        expect(await run(["sh", "-c", 'echo "[$SANDBOXLIB_PROBE]"'], { cwd: dir })).toEqual({ code: 0, stdout: "[]\n", stderr: "" });
      });

      test("--cwd, and / by default with --root", async () => {
        expect((await run(["--cwd", "/tmp", "pwd"])).stdout).toBe("/tmp\n");
        expect((await run(["pwd"])).stdout).toBe("/\n");
      });

      test("--clear-env --env foo=bar gives exactly foo=bar", async () => {
        expect(await run(["--clear-env", "--env", "foo=bar", "/bin/env"])).toEqual({ code: 0, stdout: "foo=bar\n", stderr: "" });
      });

      test("--env adds to the inherited environment", async () => {
        const r = await run(["--env", "EXTRA=1", "sh", "-c", 'echo "$EXTRA $INHERITED"'], { env: { INHERITED: "yes" } });
        expect(r.stdout).toBe("1 yes\n");
      });

      test("proc and tmpfs mounts", async () => {
        const r = await run(["--proc", "/proc", "--mount", "none:/dev/shm:tmpfs:size=1m", "sh", "-c", 'grep -E " /(proc|dev/shm) " /proc/mounts | cut -d" " -f2,3'], {});
        expect(r).toEqual({ code: 0, stdout: "/proc proc\n/dev/shm tmpfs\n", stderr: "" });
      });

      test("a program reading stdin", async () => {
        expect((await run(["cat"], { stdin: "hello from stdin\n" })).stdout).toBe("hello from stdin\n");
      });

      test("127: command not found; 126: not executable; 125: sandboxlib failed", async () => {
        expect(await run(["no-such-command"])).toEqual({ code: 127, stdout: "", stderr: "sandboxlib: command not found: no-such-command\n" });
        expect(await run(["/bin/not-executable"])).toEqual({ code: 126, stdout: "", stderr: "sandboxlib: cannot execute /bin/not-executable: Permission denied\n" });
        const missingRoot = await runCli(["run", "--backend", backend, "--root", "/nonexistent/root", "true"]);
        expect(missingRoot).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: filesystem root does not exist: /nonexistent/root\n" });
        const badCwd = await run(["--cwd", "/nonexistent", "true"]);
        expect(badCwd.code).toBe(125);
        expect(badCwd.stderr).toBe("sandboxlib: cannot change directory to /nonexistent: No such file or directory\n");
      });

      test("malformed mount specs are usage errors (125) naming the value", async () => {
        expect(await run(["--mount", "proc:/proc", "true"])).toEqual({
          code: 125,
          stdout: "",
          stderr: "sandboxlib: invalid value for --mount: proc:/proc (expected SRC:TARGET:TYPE[:OPTIONS])\n",
        });
        expect((await run(["--mount", "none::proc", "true"])).stderr).toContain("empty TARGET");
        expect((await run(["--bind", "/nonexistent:/x", "true"])).stderr).toBe("sandboxlib: bind source does not exist: /nonexistent\n");
      });

      test("a 100 MiB output is captured without deadlock, on both streams at once", async () => {
        const r = await run(["--json", "sh", "-c", "yes aaaaaaa | head -c 104857600; yes b | head -c 1048576 >&2"]);
        expect(r.code).toBe(0);
        const parsed = JSON.parse(r.stdout);
        expect(parsed.stdout.length).toBe(104857600);
        expect(parsed.stderr.length).toBe(1048576);
      });

      test("captured output of every size around the buffer's first growth comes back whole", async () => {
        for (const size of [0, 1, 65535, 65536, 65537, 131072, 131073, 1_000_003]) {
          const r = await run(["--json", "sh", "-c", `yes abcdefg | head -c ${size}`]);
          const parsed = JSON.parse(r.stdout) as { stdout: string };
          expect([size, parsed.stdout.length]).toEqual([size, size]);
          expect(parsed.stdout).toBe("abcdefg\n".repeat(Math.ceil(size / 8)).slice(0, size));
        }
      });

      test("captured output past the limit kills the command at once: one clear error, exit 125", async () => {
        const limit = { SANDBOXLIB_CAPTURE_LIMIT: "100000" };
        // Exactly the limit is fine; one byte more is not, on either stream.
        const exact = await run(["--json", "sh", "-c", "yes | head -c 100000"], { env: limit });
        expect([exact.code, JSON.parse(exact.stdout).stdout.length]).toEqual([0, 100000]);
        // Were the command not killed, its sleep would outlast the test's timeout.
        const over = await run(["--json", "sh", "-c", "yes | head -c 100001; sleep 1000"], { env: limit });
        expect(over.code).toBe(125);
        expect(over.stderr).toBe("sandboxlib: the command's stdout outgrew what a result can hold (100000 bytes): the command was killed; send it to a file instead\n");
        expect(JSON.parse(over.stdout)).toMatchObject({ exit_code: 125, setup_failed: true, stdout: null });
        const err = await run(["--json", "sh", "-c", "yes | head -c 200000 >&2"], { env: limit });
        expect([err.code, err.stderr]).toEqual([125, "sandboxlib: the command's stderr outgrew what a result can hold (100000 bytes): the command was killed; send it to a file instead\n"]);
      });

      test("mount targets through symlinks stay inside the root", async () => {
        const before = hostMountinfo();
        // lib -> /etc: the tmpfs lands on <root>/etc/inside, never the host's /etc.
        const r = await run(["--proc", "/proc", "--tmpfs", "/lib/inside", "sh", "-c", 'grep " /etc/inside " /proc/mounts | cut -d" " -f3'], {});
        expect(r).toEqual({ code: 0, stdout: "tmpfs\n", stderr: "" });
        expect(existsSync("/etc/inside")).toBe(false);
        // up -> ../../../../..: followed as if the root were /.
        const up = await run(["--tmpfs", "/up/escaped", "true"]);
        expect(up.code).toBe(0);
        expect(existsSync("/escaped")).toBe(false);
        expect(hostMountinfo()).toBe(before);
        expect(existsSync(join(rootfs, "etc/inside"))).toBe(false);
        expect(existsSync(join(rootfs, "escaped"))).toBe(false);
      });

      test("nothing left mounted after success, command failure and setup failure; created mount points removed", async () => {
        const before = hostMountinfo();
        expect((await run(["--proc", "/proc", "--tmpfs", "/new/dir", "true"])).code).toBe(0);
        expect((await run(["--proc", "/proc", "--tmpfs", "/new/dir", "false"])).code).toBe(1);
        // Setup fails half way: proc is mounted, then an unknown filesystem type.
        const half = await run(["--proc", "/proc", "--tmpfs", "/new/dir", "--mount", "none:/new/bad:nosuchfs", "true"]);
        expect(half.code).toBe(125);
        expect(half.stderr).toBe("sandboxlib: cannot mount nosuchfs on /new/bad: No such device\n");
        expect(hostMountinfo()).toBe(before);
        expect(existsSync(join(rootfs, "new"))).toBe(false);
        expect(existsSync(join(rootfs, "proc"))).toBe(true); // existed before: kept
      });

      for (const [signal, number] of [["SIGTERM", 15], ["SIGINT", 2]] as const) {
        test(`${signal} to sandboxlib mid-run reaches the command; nothing is left mounted`, async () => {
          const before = hostMountinfo();
          const marker = join(scratch, `${backend}-${signal}.started`);
          const proc = Bun.spawn([BIN, "run", "--backend", backend, "--root", rootfs, "--proc", "/proc", "--tmpfs", "/sig/tmp", "--bind", `${scratch}:/scratch`,
            "sh", "-c", `touch /scratch/${backend}-${signal}.started; sleep 30`], { stdout: "pipe", stderr: "pipe" });
          try {
            await eventually(() => existsSync(marker), "the sandboxed command started");
            if (backend === "linux") {
              // Checked from the host while the sandbox runs: nothing of it is visible.
              expect(hostMountinfo()).toBe(before);
            }
          } finally {
            proc.kill(signal);
          }
          expect(await proc.exited).toBe(128 + number);
          expect(hostMountinfo()).toBe(before);
          expect(existsSync(join(rootfs, "sig"))).toBe(false);
          expect(existsSync(join(rootfs, "scratch"))).toBe(false);
        });
      }
    });
  }
});

describe.skipIf(!isRoot)("chroot backend limits", () => {
  test("unsupported settings are errors naming the setting and the backend", async () => {
    const r = await runCli(["run", "--backend", "chroot", "--root", rootfs, "--network", "isolated", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toStartWith("sandboxlib: network=isolated is not supported by the chroot backend");
    const ro = await runCli(["run", "--backend", "chroot", "--root", rootfs, "--read-only", "true"]);
    expect(ro.stderr).toStartWith("sandboxlib: filesystem_writable_paths=none is not supported by the chroot backend");
  });

  test("--degrade falls back with the Python warning", async () => {
    const r = await runCli(["run", "--backend", "chroot", "--root", rootfs, "--degrade", "--network", "isolated", "echo", "ran"]);
    expect(r).toEqual({
      code: 0,
      stdout: "ran\n",
      stderr: "sandboxlib: warning: Unable to set network=isolated in a chroot sandbox, falling back to network=undefined\n",
    });
  });
});

describe("informational commands", () => {
  test("capabilities prints every backend's CAPABILITIES as JSON", async () => {
    const r = await runCli(["capabilities"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      linux: { network: ["undefined", "isolated"], mounts: ["undefined", "isolated"], filesystem_writable_paths: ["all", "none", "any"] },
      chroot: { network: ["undefined"], mounts: ["undefined"], filesystem_writable_paths: ["all"] },
    });
    const chroot = JSON.parse((await runCli(["capabilities", "--backend", "chroot"])).stdout);
    expect(chroot).toMatchObject({ network: ["undefined"], mounts: ["undefined"], filesystem_writable_paths: ["all"] });
    expect(chroot.features).toContain("seccomp");
    expect(await runCli(["capabilities", "--backend", "nope"])).toMatchObject({ code: 125, stderr: "sandboxlib: unknown backend: nope (known: linux, chroot; bubblewrap and linux-user-chroot mean linux)\n" });
  });

  test("--help and --version", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("sandboxlib run [OPTIONS] [--] COMMAND [ARG...]");
    expect((await runCli(["run", "--help"])).stdout).toContain("--ro-bind SRC:TARGET");
    expect((await runCli(["--version"])).stdout).toMatch(/^sandboxlib \d+\.\d+\.\d+\n$/);
  });

  test("a bad value for every option is a usage error (125) naming the option", async () => {
    const bad: [string, string][] = [
      ["--root", ""], ["--backend", "nope"], ["--cwd", ""], ["--env", "NOEQUALS"], ["--mount", "x"], ["--bind", "nocolon"],
      ["--ro-bind", ":/x"], ["--proc", ""], ["--tmpfs", ""], ["--dev", ""], ["--writable", ""], ["--network", "maybe"],
      ["--mounts", "shared"], ["--hostname", "bad host"], ["--stdout", ""], ["--stderr", ""], ["--stdin", ""],
      ["--timeout", "0"], ["--kill-after", "-1"], ["--pass-fd", "2"], ["--cap-add", "NOPE"], ["--cap-drop", "NOPE"],
      ["--uid", "x"], ["--gid", "-5"], ["--seccomp", "maybe"], ["--rlimit", "nofile"], ["--memory", "lots"],
      ["--pids", "0"], ["--cpus", "none"], ["--status-fd", "x"], ["--image-ref", ""], ["--keep-root", ""], ["--config", ""],
    ];
    for (const [option, value] of bad) {
      const r = await runCli(["run", `${option}=${value}`, "true"]);
      expect([option, r.code, r.stdout]).toEqual([option, 125, ""]);
      const named = r.stderr.includes(option) || (option === "--backend" && r.stderr.includes("unknown backend: nope")) || (option === "--hostname" && r.stderr.includes("invalid hostname"));
      expect([option, named, r.stderr.split("\n").length]).toEqual([option, true, 2]);
    }
  });

  test.skipIf(!isRoot)("the executable works from any directory (its native code embedded)", async () => {
    const proc = Bun.spawn([BIN, "run", "--backend", "linux", "--root", "/", "--read-only", "--network", "isolated", "sh", "-c", "echo ok from $(pwd)"], {
      cwd: "/",
      stdout: "pipe",
      stderr: "pipe",
    });
    expect([await new Response(proc.stdout).text(), await proc.exited]).toEqual(["ok from /\n", 0]);
  });

  test("unknown options and commands: one line, exit 125, no stack trace", async () => {
    expect(await runCli(["run", "--frob", "true"])).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: unknown option: --frob\n" });
    expect(await runCli(["frob"])).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: unknown command: frob (expected run, batch, runner, capabilities or check)\n" });
  });
});
