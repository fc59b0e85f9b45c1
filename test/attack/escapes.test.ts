// The classic escapes, tried by root inside against both backends: each is
// refused on today's main and must stay so. (What the chroot backend cannot
// prevent by design, sharing the host's PID namespace and network, is
// written down in docs/security.md instead.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { type AttackSetting, attackSetting, BACKENDS, PROBE, probeIn, runnerFor } from "../helpers/attack.ts";
import { BIN } from "../helpers/cli.ts";
import { alive } from "../helpers/host-cleanup.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/escapes.test.ts");

const SECRET = `host-secret-${process.pid}`;
let setting: AttackSetting;
let secretFile = "";
beforeAll(() => {
  if (!isRoot) return;
  setting = attackSetting("escape");
  secretFile = join(setting.scratch, "secret");
  writeFileSync(secretFile, `${SECRET}\n`);
  mkdirSync(join(setting.scratch, "ro"));
  writeFileSync(join(setting.scratch, "ro/victim"), "unchanged\n");
  mkdirSync(join(setting.scratch, "src"));
  symlinkSync("/etc", join(setting.root, "lib"));
  symlinkSync("../../..", join(setting.root, "a"));
});
afterAll(() => setting?.dispose());

/** Closes an accepted connection, whatever the client already did. */
const quietClose = (socket: import("node:net").Socket) => {
  socket.on("error", () => {});
  socket.end();
};

/** A host process the sandbox must not reach (a child of the test, harmless to kill). */
function hostSleeper() {
  return Bun.spawn(["sleep", "600"], { stdio: ["ignore", "ignore", "ignore"] });
}

for (const backend of BACKENDS) {
  const run: ReturnType<typeof runnerFor> = (args, opts) => runnerFor(backend, setting.root)(args, opts);

  describe.skipIf(!isRoot)(`${backend}: the host's files`, () => {
    test("/proc/1/root does not lead to the host's root", async () => {
      const r = await run(["--proc", "/proc", "sh", "-c", `cat /proc/1/root${secretFile}; ls /proc/1/root/`]);
      expect(r.stdout).not.toContain(SECRET);
      expect(r.stdout).not.toMatch(/\b(usr|var|boot)\b/);
    });

    test("/proc/<host pid>/root of a host process does not lead to the host's root", async () => {
      const sleeper = hostSleeper();
      try {
        const r = await run(["--proc", "/proc", "sh", "-c", `cat /proc/${sleeper.pid}/root${secretFile}; ls /proc/${sleeper.pid}/cwd/`]);
        expect(r.stdout).not.toContain(SECRET);
        expect(r.stdout).not.toMatch(/\b(usr|var|boot)\b/);
      } finally {
        sleeper.kill("SIGKILL");
      }
    });

    test("open_by_handle_at with a host file's handle is refused (the 'shocker' attack)", async () => {
      const handle = Bun.spawnSync([setting.hostProbe, "handle", secretFile]).stdout.toString().trim();
      expect(handle).toMatch(/^-?\d+:[0-9a-f]+$/); // the attack is real: the handle exists on the host
      const answer = await probeIn(run, [], "openhandle", handle);
      expect(answer).not.toContain(SECRET);
      expect(answer).toBe("EPERM");
    });

    test("symlinked mount targets (lib -> /etc, a -> ../../..) stay inside the root", async () => {
      const name = `sbx-attack-target-${process.pid}-${backend}`;
      const r = await run(["--tmpfs", `/lib/${name}`, "--bind", `${join(setting.scratch, "src")}:/a/${name}`, "sh", "-c",
        `touch /lib/${name}/m /a/${name}/m && echo mounted`]);
      try {
        expect(r.stdout).toBe("mounted\n");
        expect(existsSync(`/etc/${name}`)).toBe(false);
        expect(existsSync(`/${name}`)).toBe(false);
        expect(existsSync(join(setting.scratch, "src/m"))).toBe(true); // the bind went to <root>/<name>
      } finally {
        for (const p of [`/etc/${name}`, `/${name}`]) if (existsSync(p)) Bun.spawnSync(["sh", "-c", `umount -l ${p}; rmdir ${p}`]);
        rmSync(join(setting.scratch, "src/m"), { force: true });
      }
    });

    test("a hard link out of a read-only bind is refused (EXDEV): writability does not widen", async () => {
      const r = await run(["--ro-bind", `${join(setting.scratch, "ro")}:/ro`, "sh", "-c",
        `${PROBE} link /ro/victim /tmp/victim-link; echo changed >> /tmp/victim-link 2>/dev/null; true`]);
      rmSync(join(setting.root, "tmp/victim-link"), { force: true });
      expect(r.stdout).toBe("EXDEV\n");
      expect(readFileSync(join(setting.scratch, "ro/victim"), "utf8")).toBe("unchanged\n");
    });
  });

  describe.skipIf(!isRoot)(`${backend}: privileged calls`, () => {
    test("ptrace of PID 1 and of the command's parent (init or sandboxlib) is refused", async () => {
      const r = await run(["--proc", "/proc", "sh", "-c", `${PROBE} ptrace 1; ${PROBE} ptrace $PPID`]);
      expect(r.stdout).toBe("EPERM\nEPERM\n");
    });

    test("mount, umount and pivot_root are refused", async () => {
      const r = await run(["--tmpfs", "/tmp", "sh", "-c", `${PROBE} mount /tmp; ${PROBE} umount /tmp; ${PROBE} pivot_root`]);
      expect(r.stdout).toBe("EPERM\nEPERM\nEPERM\n");
    });

    test("no new user namespace (nor mount namespace)", async () => {
      const r = await run(["sh", "-c", `${PROBE} unshare-user; ${PROBE} unshare-mount`]);
      expect(r.stdout).toBe("EPERM\nEPERM\n");
    });

    test("keyctl and add_key are refused (the kernel keyring is not namespaced)", async () => {
      const r = await run(["sh", "-c", `${PROBE} keyctl; ${PROBE} add_key`]);
      expect(r.stdout).toBe("EPERM\nEPERM\n");
    });

    test("TIOCSTI cannot push input into the caller's terminal (bubblewrap CVE-2017-5226), under a pty", async () => {
      const inPty = (options: string, probe: string) =>
        Bun.spawnSync(["script", "-qec", `${BIN} run --backend ${backend} --root ${setting.root} ${options} ${PROBE} ${probe}`, "/dev/null"], { stdin: "ignore" }).stdout.toString().trim();
      for (const probe of ["tiocsti", "tiocsti64"]) expect(`${probe}: ${inPty("", probe)}`).toMatch(new RegExp(`^${probe}: (EPERM|EIO|ENOTTY)$`));
      // Control: the probe does reach the terminal when both guards are lifted (it types one space).
      expect(inPty("--share-session --seccomp off", "tiocsti")).toBe("ok");
    });
  });
}

describe.skipIf(!isRoot)("linux: host processes and network", () => {
  const run: ReturnType<typeof runnerFor> = (args, opts) => runnerFor("linux", setting.root)(args, opts);

  test("the classic chroot escape finds only the sandbox's root", async () => {
    const inside = (await run(["ls", "/"])).stdout.split("\n").filter(Boolean).sort();
    const escaped = await run(["/bin/chroot-escape"]);
    rmSync(join(setting.root, "tmp/escape"), { recursive: true, force: true });
    expect(escaped.stdout.split("\n").filter(Boolean).sort()).toEqual(inside);
  });

  test("a host process is invisible and cannot be signalled, even by kill -9 -1", async () => {
    const sleeper = hostSleeper();
    try {
      const r = await run(["--proc", "/proc", "sh", "-c", `${PROBE} kill ${sleeper.pid} 0; test -e /proc/${sleeper.pid} && echo visible; ${PROBE} kill -1 9`]);
      expect(r.stdout.split("\n")[0]).toBe("ESRCH");
      expect(r.stdout).not.toContain("visible");
      expect(alive(sleeper.pid)).toBe(true);
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  test("--network isolated: a host listener on an abstract UNIX socket cannot be reached", async () => {
    const name = `sbx-attack-${process.pid}`;
    const server: Server = createServer(quietClose).listen(`\0${name}`);
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      expect(await probeIn(run, [], "abstract", name)).toBe("ok"); // control: reachable without isolation
      expect(await probeIn(run, ["--network", "isolated"], "abstract", name)).toBe("ECONNREFUSED");
    } finally {
      server.close();
    }
  });

  test("--network isolated: a host listener on loopback TCP cannot be reached", async () => {
    const server: Server = createServer(quietClose).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const port = String((server.address() as { port: number }).port);
    try {
      expect(await probeIn(run, [], "tcp", port)).toBe("ok"); // control
      expect(await probeIn(run, ["--network", "isolated"], "tcp", port)).toBe("ECONNREFUSED");
    } finally {
      server.close();
    }
  });

  test("writes outside the --writable paths fail, whatever the path", async () => {
    const r = await run(["--writable", "/tmp", "sh", "-c",
      "for f in /x /etc/x /bin/x /data/1/canary /tmp/../etc/y; do (exec 2>/dev/null; echo x >> $f) && echo wrote $f; done; echo done"]);
    expect(r.stdout).toBe("done\n");
    expect(readFileSync(join(setting.root, "data/1/canary"), "utf8")).toBe("Please don't overwrite me.");
  });

  test("a hard link from a read-only path into a writable one is refused (EXDEV)", async () => {
    const r = await run(["--writable", "/tmp", PROBE, "link", "/etc/passwd", "/tmp/passwd-link"]);
    rmSync(join(setting.root, "tmp/passwd-link"), { force: true });
    expect(r.stdout).toBe("EXDEV\n");
  });
});
