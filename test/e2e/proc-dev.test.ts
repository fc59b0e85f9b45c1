// /proc, sysfs and device nodes (compiled executable, busybox rootfs, root,
// both backends): the kernel files runc and Docker mask or make read-only,
// no MKNOD by default, and nodev,nosuid on every mount but sandboxlib's /dev.
// Writes are attempted only in ways that change nothing should they succeed
// (a sysctl written with its own value, an empty write).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { isRoot, makeRootfs, mountsUnder, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("proc-dev.test.ts");

let rootfs = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  mkdirSync(join(rootfs, "data/proc"), { recursive: true });
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
});

// What the contract names; each is checked where this kernel has it, and
// checked absent inside where it has not.
const READ_ONLY = ["sys", "sysrq-trigger", "irq", "bus", "fs"];
const MASKED_FILES = ["kcore", "keys", "timer_list", "timer_stats", "sched_debug", "latency_stats"];
const MASKED_DIRS = ["acpi", "scsi"];
const onHost = (path: string) => existsSync(path);

/** Mount points and options of /proc/self/mountinfo text: [[point, "rw,nosuid,..."], ...]. */
function mountOptions(mountinfo: string): [string, string][] {
  return mountinfo.split("\n").filter(Boolean).map((line) => {
    const fields = line.split(" ");
    return [fields[4]!, fields[5]!];
  });
}
const hasOption = (options: string, name: string) => options.split(",").includes(name);

const BACKENDS = ["linux", "chroot"] as const;

for (const backend of BACKENDS) {
  const run = (args: string[]) => runCli(["run", "--backend", backend, "--root", rootfs, ...args]);
  const sh = (args: string[], script: string) => run([...args, "sh", "-c", script]);

  describe.skipIf(!isRoot)(`${backend}: --proc`, () => {
    test("kernel.core_pattern cannot be written, the root being writable (the host-root escape)", async () => {
      const r = await sh(["--proc", "/proc"], "cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern && echo WROTE");
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe("sh: can't create /proc/sys/kernel/core_pattern: Read-only file system\n");
      expect(r.code).not.toBe(0);
    });

    test("sys, sysrq-trigger, irq, bus and fs are read-only mounts where the kernel has them", async () => {
      const r = await sh(["--proc", "/proc"], "cat /proc/self/mountinfo");
      expect(r.code).toBe(0);
      const mounts = new Map(mountOptions(r.stdout));
      const present = READ_ONLY.filter((name) => onHost(`/proc/${name}`));
      expect(present).toContain("sys");
      for (const name of READ_ONLY) {
        const options = mounts.get(`/proc/${name}`);
        if (!present.includes(name)) {
          expect(options).toBeUndefined();
          continue;
        }
        expect({ name, ro: options !== undefined && hasOption(options, "ro") }).toEqual({ name, ro: true });
      }
      // Another file of the read-only tree: a write fails before the kernel sees it.
      const irq = await sh(["--proc", "/proc"], "cat /proc/irq/default_smp_affinity > /proc/irq/default_smp_affinity");
      if (onHost("/proc/irq/default_smp_affinity")) expect(irq.stderr).toContain("Read-only file system");
    });

    test("/proc/sysrq-trigger cannot be opened for writing", async () => {
      const r = await sh(["--proc", "/proc"], ": > /proc/sysrq-trigger && echo OPENED");
      expect(r.stdout).toBe("");
      // Where this kernel has none, the shell cannot create it on proc either.
      expect(r.stderr).toBe(onHost("/proc/sysrq-trigger")
        ? "sh: can't create /proc/sysrq-trigger: Read-only file system\n"
        : "sh: can't create /proc/sysrq-trigger: nonexistent directory\n");
    });

    test("masked files read empty (kcore included where the kernel has it); masked directories are empty", async () => {
      const files = MASKED_FILES.filter((name) => onHost(`/proc/${name}`));
      const dirs = MASKED_DIRS.filter((name) => onHost(`/proc/${name}`));
      // The masks hide something on this host: timer_list is never empty.
      expect(files).toContain("timer_list");
      expect(readFileSync("/proc/timer_list").length).toBeGreaterThan(0);
      const script = [
        ...files.map((f) => `echo ${f} $(wc -c < /proc/${f})`),
        ...dirs.map((d) => `echo ${d} $(ls -A /proc/${d} | wc -l)`),
        ...MASKED_FILES.filter((f) => !files.includes(f)).map((f) => `test -e /proc/${f} && echo ${f} present`),
        "true",
      ].join("; ");
      const r = await sh(["--proc", "/proc"], script);
      expect(r).toEqual({ code: 0, stdout: [...files, ...dirs].map((name) => `${name} 0\n`).join(""), stderr: "" });
    });

    test("a masked file cannot be changed: the host's /dev/null under it stays as it is", async () => {
      const before = statSync("/dev/null");
      const r = await sh(["--proc", "/proc"], "chmod 600 /proc/timer_list; chown 1:1 /proc/timer_list");
      expect(r.stderr).toBe("chmod: /proc/timer_list: Read-only file system\nchown: /proc/timer_list: Read-only file system\n");
      const after = statSync("/dev/null");
      expect([after.mode, after.uid, after.gid]).toEqual([before.mode, before.uid, before.gid]);
    });

    test("proc mounted by --mount gets the same care", async () => {
      const r = await sh(["--mount", "proc:/proc:proc:rw,dev,suid"], "cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern; wc -c < /proc/timer_list");
      expect(r.stdout).toBe("0\n");
      expect(r.stderr).toBe("sh: can't create /proc/sys/kernel/core_pattern: Read-only file system\n");
    });

    test("sysfs (--mount none:/sys:sysfs) is read-only with /sys/firmware masked", async () => {
      expect(readdirSync("/sys/firmware").length).toBeGreaterThan(0);
      const r = await sh(["--mount", "none:/sys:sysfs"], "ls -A /sys/firmware | wc -l; touch /sys/x; ls /sys/kernel >/tmp/x && echo readable");
      expect(r.stdout).toBe("0\nreadable\n");
      expect(r.stderr).toBe("touch: /sys/x: Read-only file system\n");
    });
  });

  describe.skipIf(!isRoot)(`${backend}: devices`, () => {
    test("mknod of a device fails with EPERM by default (no CAP_MKNOD)", async () => {
      const r = await sh(["--tmpfs", "/tmp"], "mknod /b b 7 0; mknod /tmp/c c 1 3; true");
      expect(r.stderr).toBe("mknod: /b: Operation not permitted\nmknod: /tmp/c: Operation not permitted\n");
      expect(existsSync(join(rootfs, "b"))).toBe(false);
    });

    test("with --cap-add MKNOD, a block device made on a tmpfs cannot be opened (nodev): EACCES", async () => {
      const r = await sh(["--cap-add", "MKNOD", "--tmpfs", "/tmp"], "mknod /tmp/b b 7 0 && echo made; head -c 1 /tmp/b");
      expect(r.stdout).toBe("made\n");
      expect(r.stderr).toBe("head: /tmp/b: Permission denied\n");
    });

    test("a tmpfs whose options say dev keeps device nodes working: the user's explicit choice", async () => {
      const r = await sh(["--cap-add", "MKNOD", "--mount", "none:/tmp:tmpfs:dev"], "mknod /tmp/null c 1 3 && echo x > /tmp/null && echo written");
      expect(r).toEqual({ code: 0, stdout: "written\n", stderr: "" });
    });

    test("--dev /dev keeps working nodes: null, zero", async () => {
      const r = await sh(["--dev", "/dev"], "echo x > /dev/null && head -c 5 /dev/zero | wc -c");
      expect(r).toEqual({ code: 0, stdout: "5\n", stderr: "" });
    });

    test("every mount is nosuid, and nodev but for --dev's tmpfs and pts and the masks over proc files", async () => {
      const r = await sh(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", `${rootfs}/data:/mnt`, "--mount", "none:/dev/mqueue:mqueue"], "cat /proc/self/mountinfo");
      expect(r.code).toBe(0);
      const mounts = mountOptions(r.stdout);
      // The chroot backend's root is the host's own mount, not the sandbox's.
      const sandbox = backend === "chroot" ? mounts.filter(([point]) => point !== "/") : mounts;
      expect(sandbox.map(([point]) => point)).toEqual(expect.arrayContaining(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/tmp", "/mnt"]));
      const mayHaveDevices = new Set(["/dev", "/dev/pts", ...MASKED_FILES.map((f) => `/proc/${f}`), "/proc/interrupts"]);
      const notNosuid = sandbox.filter(([, options]) => !hasOption(options, "nosuid"));
      const notNodev = sandbox.filter(([point, options]) => !hasOption(options, "nodev") && !mayHaveDevices.has(point));
      expect({ notNosuid, notNodev }).toEqual({ notNosuid: [], notNodev: [] });
      if (backend === "linux") expect(mounts.find(([point]) => point === "/")?.[1]).toMatch(/(^|,)nosuid,nodev(,|$)/);
    });
  });
}

describe.skipIf(!isRoot)("linux: the root itself", () => {
  const run = (args: string[]) => runCli(["run", "--backend", "linux", "--root", rootfs, ...args]);

  test("with --cap-add MKNOD, a block device made on the root cannot be opened: EACCES", async () => {
    const r = await run(["--cap-add", "MKNOD", "sh", "-c", "mknod /b b 7 0 && echo made; head -c 1 /b; rm /b"]);
    expect(r.stdout).toBe("made\n");
    expect(r.stderr).toBe("head: /b: Permission denied\n");
  });

  test("a proc below a writable path keeps its read-only files (writable paths clear read-only recursively)", async () => {
    const r = await run(["--writable", "/data", "--proc", "/data/proc", "sh", "-c",
      "cat /data/proc/sys/kernel/core_pattern > /data/proc/sys/kernel/core_pattern; wc -c < /data/proc/timer_list; touch /data/ok && echo data-writable"]);
    expect(r.stdout).toBe("0\ndata-writable\n");
    expect(r.stderr).toBe("sh: can't create /data/proc/sys/kernel/core_pattern: Read-only file system\n");
  });
});

describe.skipIf(!isRoot)("chroot: nothing left on the host", () => {
  test("proc and sysfs with their masks are all unmounted afterwards", async () => {
    const r = await runCli(["run", "--backend", "chroot", "--root", rootfs, "--proc", "/proc", "--mount", "none:/sys:sysfs", "true"]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(mountsUnder(rootfs)).toEqual([]);
  });
});
