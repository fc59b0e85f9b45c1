// The plan as JSON (--print-plan): op and fields, flags by name, the seccomp
// filter as a length.
import { describe, expect, test } from "bun:test";
import { CLONE_NEWNET, CLONE_NEWNS, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MS_BIND, MS_REC, MS_RDONLY } from "../../src/base/kernel-constants.ts";
import { capabilityMask } from "../../src/hardening/capabilities.ts";
import { RLIM_INFINITY } from "../../src/hardening/rlimits.ts";
import { flagNames, printablePlan, printableStep } from "../../src/plan/print.ts";
import type { SandboxPlan } from "../../src/plan/sandbox-plan.ts";
import type { Step } from "../../src/plan/steps.ts";

describe("printable plans", () => {
  test("flags by name; bits without a name as hex", () => {
    expect(flagNames(MS_BIND | MS_REC | MS_RDONLY, [["MS_RDONLY", MS_RDONLY], ["MS_BIND", MS_BIND], ["MS_REC", MS_REC]])).toEqual(["MS_RDONLY", "MS_BIND", "MS_REC"]);
    expect(flagNames(CLONE_NEWNS | 0x80, [["CLONE_NEWNS", CLONE_NEWNS]])).toEqual(["CLONE_NEWNS", "0x80"]);
    expect(flagNames(0, [["CLONE_NEWNS", CLONE_NEWNS]])).toEqual([]);
  });

  test("each step: op, what it does, its fields", () => {
    const steps: Step[] = [
      { op: "mount", source: "/src", target: "a/b", inRoot: true, sourceInRoot: false, fstype: null, flags: MS_BIND | MS_REC, data: null, optional: true },
      { op: "setattr", path: "", set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, clear: 0, recursive: true },
      { op: "mkdirs", path: "tmp", mode: 0o755, file: false },
      { op: "capabilities", keep: capabilityMask(["KILL", "CHOWN"]), setEffective: true },
      { op: "rlimit", name: "nofile", resource: 7, soft: 64n, hard: RLIM_INFINITY },
      { op: "seccomp", filter: new Uint8Array(8 * 5) },
      { op: "close-from", fd: 3, keep: [5] },
      { op: "exec", file: "sh", argv: ["sh", "-c", "true"], env: ["A=1"], searchPath: "/bin" },
      { op: "private-root" },
    ];
    expect(steps.map(printableStep)).toEqual([
      { op: "mount", what: "mount /src on /a/b", source: "/src", target: "a/b", inRoot: true, sourceInRoot: false, fstype: null, flags: ["MS_BIND", "MS_REC"], data: null, optional: true },
      { op: "setattr", what: "set mount attributes of /", path: "", set: ["MOUNT_ATTR_RDONLY", "MOUNT_ATTR_NOSUID"], clear: [], recursive: true },
      { op: "mkdirs", what: "create mount point /tmp", path: "tmp", mode: "0755", file: false },
      { op: "capabilities", what: "drop capabilities", keep: ["CHOWN", "KILL"], setEffective: true },
      { op: "rlimit", what: "set rlimit nofile", name: "nofile", resource: 7, soft: 64, hard: "unlimited" },
      { op: "seccomp", what: "load the seccomp filter", filterInstructions: 5 },
      { op: "close-from", what: "close file descriptors from 3", fd: 3, keep: [5] },
      { op: "exec", what: "execute sh", file: "sh", argv: ["sh", "-c", "true"], env: ["A=1"], searchPath: "/bin" },
      { op: "private-root", what: "make / private" },
    ]);
  });

  test("the plan: backend, extra fields, root, clone flags by name, steps; JSON without bytes or bigints", () => {
    const plan: SandboxPlan = {
      root: "/srv/root",
      createsMountPoints: false,
      child: [{ op: "chroot", path: "/srv/root" }, { op: "seccomp", filter: new Uint8Array(16) }],
      cloneFlags: CLONE_NEWNS | CLONE_NEWNET,
      cleanup: () => ({ remove: [] }),
    };
    const printed = printablePlan("chroot", plan, { stdio: { stdin: "null", stdout: "capture", stderr: "capture" } });
    expect(printed).toEqual({
      backend: "chroot",
      stdio: { stdin: "null", stdout: "capture", stderr: "capture" },
      root: "/srv/root",
      createsMountPoints: false,
      cloneFlags: ["CLONE_NEWNS", "CLONE_NEWNET"],
      child: [
        { op: "chroot", what: "chroot into /srv/root", path: "/srv/root" },
        { op: "seccomp", what: "load the seccomp filter", filterInstructions: 2 },
      ],
    });
    expect(JSON.parse(JSON.stringify(printed))).toEqual(printed);
  });
});
