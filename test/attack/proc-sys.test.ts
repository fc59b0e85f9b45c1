// Attack: host-wide kernel settings through the sandbox's own /proc and /sys
// (issue 13 item 1, contract C1). A proc mounted in a PID namespace without a
// user namespace still writes the host's sysctls: kernel.core_pattern set to
// a program in the root is run by the host kernel as host root. Only
// writability is probed: files are opened for writing and closed unwritten.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { type AttackSetting, attackSetting, BACKENDS, PROBE, probeIn, runnerFor } from "../helpers/attack.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/proc-sys.test.ts");

let setting: AttackSetting;
beforeAll(() => {
  if (isRoot) setting = attackSetting("proc");
});
afterAll(() => setting?.dispose());

/** How a refused write looks: the mount is read-only, or permission is denied. */
const REFUSED = /^(EROFS|EACCES|EPERM)$/;
/** Paths Docker/runc make read-only, as they exist on this host. */
const READ_ONLY = ["sys", "sysrq-trigger", "irq", "bus", "fs"].filter((p) => existsSync(`/proc/${p}`));
/** Paths Docker/runc mask, as they exist on this host. */
const MASKED = ["kcore", "keys", "timer_list", "sched_debug", "latency_stats", "timer_stats", "acpi", "scsi"].filter((p) => existsSync(`/proc/${p}`));
const isDir = (p: string) => statSync(p).isDirectory();

for (const backend of BACKENDS) {
  const run = (args: string[]) => runnerFor(backend, setting.root)(args);

  describe.skipIf(!isRoot)(`${backend}: the sandbox's /proc and /sys (C1)`, () => {
    test("kernel.core_pattern cannot be opened for writing through --proc (the core_pattern escape)", async () => {
      expect(await probeIn(run, ["--proc", "/proc"], "openw", "/proc/sys/kernel/core_pattern")).toMatch(REFUSED);
    });

    test("kernel.core_pattern cannot be opened for writing through a proc given as --mount or extra_mounts", async () => {
      expect(await probeIn(run, ["--mount", "none:/proc:proc"], "openw", "/proc/sys/kernel/core_pattern")).toMatch(REFUSED);
      const config = JSON.stringify({ extra_mounts: [[null, "/proc", "proc"]] });
      const r = await runnerFor(backend, setting.root)(["--config", "-", PROBE, "openw", "/proc/sys/kernel/core_pattern"], { stdin: config });
      expect(r.stdout.trim()).toMatch(REFUSED);
    });

    test("P/sys, P/sysrq-trigger, P/irq, P/bus, P/fs are on read-only mounts, at any P, on a writable root", async () => {
      for (const p of ["/proc", "/altproc"]) {
        const r = await run(["--proc", p, "sh", "-c", READ_ONLY.map((name) => `echo ${name} $(${PROBE} flags ${p}/${name} | cut -d' ' -f1)`).join("; ")]);
        expect(r.stdout).toBe(READ_ONLY.map((name) => `${name} ro\n`).join(""));
      }
    });

    test("/proc/sysrq-trigger and the sysctl files cannot be opened for writing", async () => {
      const files = ["/proc/sysrq-trigger", "/proc/sys/kernel/modprobe", "/proc/sys/vm/drop_caches", "/proc/sys/kernel/hostname"].filter((f) => existsSync(f));
      const r = await run(["--proc", "/proc", "sh", "-c", files.map((f) => `${PROBE} openw ${f}`).join("; ")]);
      expect(r.stdout.trim().split("\n")).toEqual(files.map(() => expect.stringMatching(REFUSED)));
    });

    test("masked /proc paths read empty: a file is /dev/null, a directory an empty tmpfs", async () => {
      const script = MASKED.map((name) =>
        isDir(`/proc/${name}`) ? `echo ${name} $(ls -A /proc/${name} | wc -l)` : `echo ${name} $(wc -c < /proc/${name} 2>/dev/null || echo unreadable)`,
      ).join("; ");
      const r = await run(["--proc", "/proc", "sh", "-c", script]);
      expect(r.stdout).toBe(MASKED.map((name) => `${name} 0\n`).join(""));
    });

    test("a user sysfs mount is read-only and /sys/firmware is masked", async () => {
      const r = await run(["--mount", "none:/sys:sysfs", "sh", "-c", `${PROBE} flags /sys | cut -d' ' -f1; ls -A /sys/firmware 2>/dev/null | wc -l`]);
      expect(r.stdout).toBe("ro\n0\n");
    });

    test.skipIf(!existsSync("/sys/kernel/uevent_helper"))("/sys/kernel/uevent_helper (a program the host kernel runs as root) cannot be opened for writing", async () => {
      expect(await probeIn(run, ["--mount", "none:/sys:sysfs"], "openw", "/sys/kernel/uevent_helper")).toMatch(REFUSED);
    });
  });
}
