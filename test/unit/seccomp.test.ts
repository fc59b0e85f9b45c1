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

/** The numbers the tests below need (the filter's own table is private). */
const NR: Record<string, Record<Arch, number>> = {
  ioctl: { x64: 16, arm64: 29 },
  clone: { x64: 56, arm64: 220 },
  unshare: { x64: 272, arm64: 97 },
  clone3: { x64: 435, arm64: 435 },
  mount: { x64: 165, arm64: 40 },
  ptrace: { x64: 101, arm64: 117 },
  reboot: { x64: 169, arm64: 142 },
  bpf: { x64: 321, arm64: 280 },
  read: { x64: 0, arm64: 63 },
  execve: { x64: 59, arm64: 221 },
};

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
  const refused = new Set(refusedSyscalls(policy).map((name) => NAMED[name]![policy.arch]));
  if (refused.has(nr)) return EPERM;
  if (nr === NR.clone3![policy.arch]) return ENOSYS;
  return RET_ALLOW;
}

// Every name refusedSyscalls can give, with its numbers.
const NAMED: Record<string, Record<Arch, number>> = {
  ...NR,
  init_module: { x64: 175, arm64: 105 }, finit_module: { x64: 313, arm64: 273 }, delete_module: { x64: 176, arm64: 106 },
  kexec_load: { x64: 246, arm64: 104 }, kexec_file_load: { x64: 320, arm64: 294 }, swapon: { x64: 167, arm64: 224 },
  swapoff: { x64: 168, arm64: 225 }, settimeofday: { x64: 164, arm64: 170 }, clock_settime: { x64: 227, arm64: 112 },
  clock_adjtime: { x64: 305, arm64: 266 }, adjtimex: { x64: 159, arm64: 171 }, perf_event_open: { x64: 298, arm64: 241 },
  userfaultfd: { x64: 323, arm64: 282 }, add_key: { x64: 248, arm64: 217 }, request_key: { x64: 249, arm64: 218 },
  keyctl: { x64: 250, arm64: 219 }, acct: { x64: 163, arm64: 89 }, open_by_handle_at: { x64: 304, arm64: 265 },
  process_vm_readv: { x64: 310, arm64: 270 }, process_vm_writev: { x64: 311, arm64: 271 }, umount2: { x64: 166, arm64: 39 },
  pivot_root: { x64: 155, arm64: 41 }, open_tree: { x64: 428, arm64: 428 }, move_mount: { x64: 429, arm64: 429 },
  fsopen: { x64: 430, arm64: 430 }, fsconfig: { x64: 431, arm64: 431 }, fsmount: { x64: 432, arm64: 432 },
  fspick: { x64: 433, arm64: 433 }, mount_setattr: { x64: 442, arm64: 442 },
};

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
      expect(fate("mount")).toBe(policy.allowMounts ? RET_ALLOW : EPERM);
      expect(fate("ptrace")).toBe(policy.ownPidNamespace ? RET_ALLOW : EPERM);
      expect([fate("reboot"), fate("bpf"), fate("read"), fate("execve")]).toEqual([EPERM, EPERM, RET_ALLOW, RET_ALLOW]);
    }
  });

  test("arguments: TIOCSTI, and new user namespaces through clone and unshare", () => {
    for (const policy of policies) {
      const filter = buildSeccompFilter(policy);
      const arch = AUDIT_ARCH[policy.arch];
      const nr = (name: string) => NR[name]![policy.arch];
      expect(run(filter, nr("ioctl"), arch, [0, TIOCSTI])).toBe(EPERM);
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
