// The default seccomp filter, assembled as classic BPF in TypeScript and
// loaded by the native helper just before exec. It refuses, with EPERM, what
// no build needs and a root sandbox must not do; a syscall of another
// architecture (or x86's x32 ABI) kills the process.

export type Arch = "x64" | "arm64";

const AUDIT_ARCH: Record<Arch, number> = { x64: 0xc000003e, arm64: 0xc00000b7 };

/** Syscall numbers per architecture (arm64: asm-generic). */
const SYSCALLS: Record<string, Record<Arch, number>> = {
  init_module: { x64: 175, arm64: 105 },
  finit_module: { x64: 313, arm64: 273 },
  delete_module: { x64: 176, arm64: 106 },
  kexec_load: { x64: 246, arm64: 104 },
  kexec_file_load: { x64: 320, arm64: 294 },
  reboot: { x64: 169, arm64: 142 },
  swapon: { x64: 167, arm64: 224 },
  swapoff: { x64: 168, arm64: 225 },
  settimeofday: { x64: 164, arm64: 170 },
  clock_settime: { x64: 227, arm64: 112 },
  clock_adjtime: { x64: 305, arm64: 266 },
  adjtimex: { x64: 159, arm64: 171 },
  bpf: { x64: 321, arm64: 280 },
  perf_event_open: { x64: 298, arm64: 241 },
  userfaultfd: { x64: 323, arm64: 282 },
  add_key: { x64: 248, arm64: 217 },
  request_key: { x64: 249, arm64: 218 },
  keyctl: { x64: 250, arm64: 219 },
  acct: { x64: 163, arm64: 89 },
  open_by_handle_at: { x64: 304, arm64: 265 },
  ptrace: { x64: 101, arm64: 117 },
  process_vm_readv: { x64: 310, arm64: 270 },
  process_vm_writev: { x64: 311, arm64: 271 },
  mount: { x64: 165, arm64: 40 },
  umount2: { x64: 166, arm64: 39 },
  pivot_root: { x64: 155, arm64: 41 },
  open_tree: { x64: 428, arm64: 428 },
  move_mount: { x64: 429, arm64: 429 },
  fsopen: { x64: 430, arm64: 430 },
  fsconfig: { x64: 431, arm64: 431 },
  fsmount: { x64: 432, arm64: 432 },
  fspick: { x64: 433, arm64: 433 },
  mount_setattr: { x64: 442, arm64: 442 },
  ioctl: { x64: 16, arm64: 29 },
  clone: { x64: 56, arm64: 220 },
  clone3: { x64: 435, arm64: 435 },
  unshare: { x64: 272, arm64: 97 },
};

/** Refused whatever the configuration. */
const ALWAYS_REFUSED = [
  "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
  "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "bpf", "perf_event_open", "userfaultfd",
  "add_key", "request_key", "keyctl", "acct", "open_by_handle_at",
];

const MOUNT_CALLS = ["mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"];
const PTRACE_CALLS = ["ptrace", "process_vm_readv", "process_vm_writev"];

const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;
const CLONE_NEWUSER = 0x10000000;
const EPERM = 1;
const ENOSYS = 38;

const RET_KILL_PROCESS = 0x80000000;
const RET_ALLOW = 0x7fff0000;
const retErrno = (errno: number) => 0x00050000 | errno;

// Classic BPF opcodes.
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

// Offsets in struct seccomp_data; on little-endian machines the low 32 bits
// of an argument come first, which is the whole of an int-sized argument.
const NR = 0;
const ARCH = 4;
const argLow = (i: number) => 16 + 8 * i;

export interface SeccompPolicy {
  arch: Arch;
  /** SYS_ADMIN is kept: mount calls are then the command's business. */
  allowMounts: boolean;
  /** The command cannot see processes outside (its own PID namespace). */
  ownPidNamespace: boolean;
}

interface Insn {
  code: number;
  k: number;
  /** Jump targets by label, resolved when the program is assembled. */
  jt?: string;
  jf?: string;
  label?: string;
}

/** The names of the syscalls refused outright under `policy`. */
export function refusedSyscalls(policy: SeccompPolicy): string[] {
  const names = [...ALWAYS_REFUSED];
  if (!policy.allowMounts) names.push(...MOUNT_CALLS);
  if (!policy.ownPidNamespace) names.push(...PTRACE_CALLS);
  return names;
}

function assemble(program: Insn[]): Uint8Array {
  const at = new Map<string, number>();
  program.forEach((insn, i) => insn.label && at.set(insn.label, i));
  const out = new Uint8Array(program.length * 8);
  const view = new DataView(out.buffer);
  program.forEach((insn, i) => {
    const offset = (label: string | undefined) => {
      if (label === undefined) return 0;
      const target = at.get(label);
      if (target === undefined || target <= i || target - i - 1 > 255) throw new Error(`seccomp: bad jump to ${label}`);
      return target - i - 1;
    };
    view.setUint16(i * 8, insn.code, true);
    view.setUint8(i * 8 + 2, offset(insn.jt));
    view.setUint8(i * 8 + 3, offset(insn.jf));
    view.setUint32(i * 8 + 4, insn.k >>> 0, true);
  });
  return out;
}

/** Every policy build.ts assembles ahead of time, for the build's architecture. */
export function policiesFor(arch: Arch): SeccompPolicy[] {
  return [false, true].flatMap((allowMounts) => [false, true].map((ownPidNamespace) => ({ arch, allowMounts, ownPidNamespace })));
}

export const policyKey = (p: SeccompPolicy) => `${p.arch}/${p.allowMounts ? "mounts" : "-"}/${p.ownPidNamespace ? "own-pids" : "-"}`;

/** Base64 of each policy's filter by policyKey, assembled by build.ts; absent from source. */
declare const SANDBOXLIB_SECCOMP_FILTERS: Record<string, string> | undefined;
const assembledAtBuild = typeof SANDBOXLIB_SECCOMP_FILTERS === "object" ? SANDBOXLIB_SECCOMP_FILTERS : null;

/** Each policy's filter, once decoded or assembled (callers copy it, never change it). */
const filters = new Map<string, Uint8Array>();

/**
 * The filter for `policy`: the executable has them assembled at build time
 * (assembling one costs about 0.4 ms the first time, at every cold start);
 * otherwise, or for a policy it lacks, assembled here.
 */
export function seccompFilter(policy: SeccompPolicy): Uint8Array {
  const key = policyKey(policy);
  let filter = filters.get(key);
  if (filter) return filter;
  const built = assembledAtBuild?.[key];
  filter = built === undefined ? buildSeccompFilter(policy) : Uint8Array.fromBase64(built);
  filters.set(key, filter);
  return filter;
}

/** A syscall number with a fate of its own, and the label of that fate. */
interface Route {
  nr: number;
  to: string;
}

/**
 * Sends each routed syscall number (in the accumulator, `routes` sorted) to
 * its label and allows every other one, as a binary search: about 4
 * comparisons instead of one per route. The kernel runs the filter for every
 * syscall number when it is attached (to learn which are always allowed),
 * and the command runs it for each call the cache does not cover.
 */
function searchTree(routes: readonly Route[], label?: string): Insn[] {
  if (routes.length <= 3) {
    const leaf: Insn[] = routes.map((r) => ({ code: JEQ_K, k: r.nr, jt: r.to }));
    leaf.push({ code: RET_K, k: RET_ALLOW });
    leaf[0]!.label = label;
    return leaf;
  }
  const mid = routes.length >> 1;
  const upper = `nr>=${routes[mid]!.nr}`;
  return [{ code: JGE_K, k: routes[mid]!.nr, jt: upper, label }, ...searchTree(routes.slice(0, mid)), ...searchTree(routes.slice(mid), upper)];
}

/** The filter as struct sock_filter[] bytes (8 bytes an instruction). */
export function buildSeccompFilter(policy: SeccompPolicy): Uint8Array {
  const nr = (name: string) => SYSCALLS[name]![policy.arch];
  const p: Insn[] = [
    { code: LD_W_ABS, k: ARCH },
    { code: JEQ_K, k: AUDIT_ARCH[policy.arch], jt: "arch-ok", jf: "kill" },
    { code: LD_W_ABS, k: NR, label: "arch-ok" },
  ];
  // x32 syscalls share x86-64's audit arch, with bit 30 set: kill them too.
  if (policy.arch === "x64") p.push({ code: JGE_K, k: 0x40000000, jt: "kill" });
  const routes: Route[] = [
    ...refusedSyscalls(policy).map((name) => ({ nr: nr(name), to: "eperm" })),
    { nr: nr("ioctl"), to: "ioctl" },
    { nr: nr("clone"), to: "clone" },
    { nr: nr("unshare"), to: "unshare" },
    // clone3 passes its flags in memory a filter cannot read: say it does not
    // exist, and the C library falls back to clone, whose flags it can.
    { nr: nr("clone3"), to: "enosys" },
  ];
  p.push(...searchTree(routes.sort((a, b) => a.nr - b.nr)));
  // ioctl(fd, TIOCSTI | TIOCLINUX): only the low 32 bits of the request are
  // compared, as the kernel truncates it: a 64-bit variant is caught too.
  p.push({ code: LD_W_ABS, k: argLow(1), label: "ioctl" });
  p.push({ code: JEQ_K, k: TIOCSTI, jt: "eperm" });
  p.push({ code: JEQ_K, k: TIOCLINUX, jt: "eperm" });
  p.push({ code: RET_K, k: RET_ALLOW });
  // clone(flags, ...) and unshare(flags): no new user namespace.
  p.push({ code: LD_W_ABS, k: argLow(0), label: "clone" });
  p.push({ code: JSET_K, k: CLONE_NEWUSER, jt: "eperm" });
  p.push({ code: RET_K, k: RET_ALLOW });
  p.push({ code: LD_W_ABS, k: argLow(0), label: "unshare" });
  p.push({ code: JSET_K, k: CLONE_NEWUSER, jt: "eperm" });
  p.push({ code: RET_K, k: RET_ALLOW });
  p.push({ code: RET_K, k: retErrno(ENOSYS), label: "enosys" });
  p.push({ code: RET_K, k: retErrno(EPERM), label: "eperm" });
  p.push({ code: RET_K, k: RET_KILL_PROCESS, label: "kill" });
  return assemble(p);
}

export function currentArch(): Arch {
  if (process.arch === "x64" || process.arch === "arm64") return process.arch;
  throw new Error(`seccomp: unsupported architecture ${process.arch}`);
}
