// The default seccomp filter, run here by a small classic-BPF interpreter for
// every syscall number of both architectures, under every policy: whatever
// its layout, each call must meet the fate the policy gives it.
import { describe, expect, test } from "bun:test";
import { type Arch, buildSeccompFilter, policiesFor, refusedSyscalls, type SeccompPolicy } from "../../src/hardening/seccomp.ts";

const AUDIT_ARCH: Record<Arch, number> = { x64: 0xc000003e, arm64: 0xc00000b7 };
const RET_ALLOW = 0x7fff0000;
const RET_KILL_PROCESS = 0x80000000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;
const TIOCSTI = 0x5412;
const CLONE_NEWUSER = 0x10000000;

type Fate = "allow" | "EPERM" | "ENOSYS";

/**
 * What each policy must do with each call, written out by hand (never
 * derived from the production lists: deleting a call there must fail here).
 * Columns: the four policies, as [allowMounts, ownPidNamespace] =
 * [no, no], [no, yes], [yes, no], [yes, yes]. Numbers from the kernel's
 * arch/x86/entry/syscalls/syscall_64.tbl and include/uapi/asm-generic/unistd.h.
 * Every number not listed is allowed (with benign arguments).
 */
const EXPECTED: [name: string, x64: number, arm64: number, fates: [Fate, Fate, Fate, Fate]][] = [
  // Refused whatever the policy.
  ["init_module", 175, 105, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["finit_module", 313, 273, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["delete_module", 176, 106, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["kexec_load", 246, 104, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["kexec_file_load", 320, 294, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["reboot", 169, 142, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["swapon", 167, 224, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["swapoff", 168, 225, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["settimeofday", 164, 170, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["clock_settime", 227, 112, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["clock_adjtime", 305, 266, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["adjtimex", 159, 171, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["bpf", 321, 280, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["perf_event_open", 298, 241, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["userfaultfd", 323, 282, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["add_key", 248, 217, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["request_key", 249, 218, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["keyctl", 250, 219, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["acct", 163, 89, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  ["open_by_handle_at", 304, 265, ["EPERM", "EPERM", "EPERM", "EPERM"]],
  // Allowed only where the sandbox has its own mount namespace to change.
  ["mount", 165, 40, ["EPERM", "EPERM", "allow", "allow"]],
  ["umount2", 166, 39, ["EPERM", "EPERM", "allow", "allow"]],
  ["pivot_root", 155, 41, ["EPERM", "EPERM", "allow", "allow"]],
  ["open_tree", 428, 428, ["EPERM", "EPERM", "allow", "allow"]],
  ["move_mount", 429, 429, ["EPERM", "EPERM", "allow", "allow"]],
  ["fsopen", 430, 430, ["EPERM", "EPERM", "allow", "allow"]],
  ["fsconfig", 431, 431, ["EPERM", "EPERM", "allow", "allow"]],
  ["fsmount", 432, 432, ["EPERM", "EPERM", "allow", "allow"]],
  ["fspick", 433, 433, ["EPERM", "EPERM", "allow", "allow"]],
  ["mount_setattr", 442, 442, ["EPERM", "EPERM", "allow", "allow"]],
  // Allowed only where every process it can reach is the sandbox's own.
  ["ptrace", 101, 117, ["EPERM", "allow", "EPERM", "allow"]],
  ["process_vm_readv", 310, 270, ["EPERM", "allow", "EPERM", "allow"]],
  ["process_vm_writev", 311, 271, ["EPERM", "allow", "EPERM", "allow"]],
  // clone3 cannot have its flags inspected: ENOSYS makes libc fall back to clone.
  ["clone3", 435, 435, ["ENOSYS", "ENOSYS", "ENOSYS", "ENOSYS"]],
  // Allowed with benign arguments (their arguments are checked below).
  ["ioctl", 16, 29, ["allow", "allow", "allow", "allow"]],
  ["clone", 56, 220, ["allow", "allow", "allow", "allow"]],
  ["unshare", 272, 97, ["allow", "allow", "allow", "allow"]],
  ["read", 0, 63, ["allow", "allow", "allow", "allow"]],
  ["execve", 59, 221, ["allow", "allow", "allow", "allow"]],
];

const VERDICT: Record<Fate, number> = { allow: RET_ALLOW, EPERM, ENOSYS };

const NR: Record<string, Record<Arch, number>> = Object.fromEntries(EXPECTED.map(([name, x64, arm64]) => [name, { x64, arm64 }]));

const column = (policy: SeccompPolicy) => ((policy.allowMounts ? 2 : 0) + (policy.ownPidNamespace ? 1 : 0)) as 0 | 1 | 2 | 3;

/** Runs `filter` on struct seccomp_data { nr, arch, ip, args[6] } (args as 32-bit lows): its verdict. */
function run(filter: Uint8Array, nr: number, arch: number, args: number[] = []): number {
  return execute(filter, nr, arch, args).verdict;
}

/** The verdict, and how many instructions it took. */
function execute(filter: Uint8Array, nr: number, arch: number, args: number[] = []): { verdict: number; executed: number } {
  const view = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  const data = new DataView(new ArrayBuffer(64));
  data.setUint32(0, nr >>> 0, true);
  data.setUint32(4, arch >>> 0, true);
  args.forEach((a, i) => data.setUint32(16 + 8 * i, a >>> 0, true));
  let acc = 0;
  for (let pc = 0, executed = 1; pc * 8 < filter.length; pc++, executed++) {
    if (executed > filter.length) throw new Error("the filter loops");
    const code = view.getUint16(pc * 8, true);
    const jt = view.getUint8(pc * 8 + 2);
    const jf = view.getUint8(pc * 8 + 3);
    const k = view.getUint32(pc * 8 + 4, true);
    switch (code) {
      case 0x20: // ld [k]
        acc = data.getUint32(k, true);
        break;
      case 0x15: // jeq #k
        pc += acc === k ? jt : jf;
        break;
      case 0x35: // jge #k
        pc += acc >= k ? jt : jf;
        break;
      case 0x45: // jset #k
        pc += (acc & k) !== 0 ? jt : jf;
        break;
      case 0x06: // ret #k
        return { verdict: k, executed };
      default:
        throw new Error(`unexpected opcode ${code.toString(16)}`);
    }
  }
  throw new Error("the filter ran off its end");
}

function expectedFate(policy: SeccompPolicy, nr: number): number {
  const row = EXPECTED.find((r) => r[policy.arch === "x64" ? 1 : 2] === nr);
  return row ? VERDICT[row[3][column(policy)]] : RET_ALLOW;
}

describe("the default seccomp filter", () => {
  const policies = (["x64", "arm64"] as const).flatMap((arch) => policiesFor(arch));

  test("every syscall number meets its fate under every policy (benign arguments)", () => {
    for (const policy of policies) {
      const filter = buildSeccompFilter(policy);
      for (let nr = 0; nr < 512; nr++) {
        expect([policy, nr, run(filter, nr, AUDIT_ARCH[policy.arch])]).toEqual([policy, nr, expectedFate(policy, nr)]);
      }
    }
  });

  test("the policies differ where they should: mounts and ptrace", () => {
    for (const policy of policies) {
      const filter = buildSeccompFilter(policy);
      const fate = (name: string) => run(filter, NR[name]![policy.arch], AUDIT_ARCH[policy.arch]);
      expect(policies.map(column).sort()).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
      expect(fate("mount")).toBe(policy.allowMounts ? RET_ALLOW : EPERM);
      expect(fate("ptrace")).toBe(policy.ownPidNamespace ? RET_ALLOW : EPERM);
      expect([fate("reboot"), fate("bpf"), fate("read"), fate("execve")]).toEqual([EPERM, EPERM, RET_ALLOW, RET_ALLOW]);
    }
  });

  test("the table names every call the production lists refuse, with the same numbers", () => {
    // A call added to the production list must be added to EXPECTED too.
    for (const policy of policies) {
      for (const name of refusedSyscalls(policy)) {
        const row = EXPECTED.find((r) => r[0] === name);
        expect([name, row !== undefined]).toEqual([name, true]);
        expect([name, VERDICT[row![3][column(policy)]]]).toEqual([name, EPERM]);
      }
    }
  });

  test("arguments: TIOCSTI, and new user namespaces through clone and unshare", () => {
    for (const policy of policies) {
      const filter = buildSeccompFilter(policy);
      const arch = AUDIT_ARCH[policy.arch];
      const nr = (name: string) => NR[name]![policy.arch];
      expect(run(filter, nr("ioctl"), arch, [0, TIOCSTI])).toBe(EPERM);
      expect(run(filter, nr("ioctl"), arch, [0, 0x541c /* TIOCLINUX */])).toBe(EPERM);
      expect(run(filter, nr("ioctl"), arch, [0, 0x5401 /* TCGETS */])).toBe(RET_ALLOW);
      expect(run(filter, nr("clone"), arch, [CLONE_NEWUSER | 17])).toBe(EPERM);
      expect(run(filter, nr("clone"), arch, [17 /* SIGCHLD */])).toBe(RET_ALLOW);
      expect(run(filter, nr("unshare"), arch, [CLONE_NEWUSER])).toBe(EPERM);
      expect(run(filter, nr("unshare"), arch, [0x04000000 /* CLONE_NEWUTS */])).toBe(RET_ALLOW);
    }
  });

  test("another architecture, and x86's x32 calls, kill the process", () => {
    for (const policy of policies) {
      const filter = buildSeccompFilter(policy);
      const other = policy.arch === "x64" ? AUDIT_ARCH.arm64 : AUDIT_ARCH.x64;
      expect(run(filter, 0, other)).toBe(RET_KILL_PROCESS);
      if (policy.arch === "x64") expect(run(filter, 0x40000000 | 1, AUDIT_ARCH.x64)).toBe(RET_KILL_PROCESS);
    }
  });

  test("a call is decided in a handful of instructions, not one per refused call", () => {
    // Counted on the longest path: the kernel runs the filter for every
    // syscall number when it is attached.
    const policy: SeccompPolicy = { arch: "x64", allowMounts: false, ownPidNamespace: false };
    const filter = buildSeccompFilter(policy);
    let longest = 0;
    for (let nr = 0; nr < 512; nr++) longest = Math.max(longest, execute(filter, nr, AUDIT_ARCH.x64).executed);
    expect(longest).toBeLessThanOrEqual(14);
  });
});
