// Linux capabilities by name, and the set a sandboxed command keeps:
// Docker's default set without MKNOD, unless --cap-add / --cap-drop say
// otherwise.
import { configError } from "../base/errors.ts";

export const CAPABILITY_NUMBERS: Readonly<Record<string, number>> = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7,
  SETPCAP: 8, LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13,
  IPC_LOCK: 14, IPC_OWNER: 15, SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19, SYS_PACCT: 20,
  SYS_ADMIN: 21, SYS_BOOT: 22, SYS_NICE: 23, SYS_RESOURCE: 24, SYS_TIME: 25, SYS_TTY_CONFIG: 26, MKNOD: 27,
  LEASE: 28, AUDIT_WRITE: 29, AUDIT_CONTROL: 30, SETFCAP: 31, MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34,
  WAKE_ALARM: 35, BLOCK_SUSPEND: 36, AUDIT_READ: 37, PERFMON: 38, BPF: 39, CHECKPOINT_RESTORE: 40,
};

/**
 * Docker's default capability set without MKNOD: what a build needs as
 * root, no more. Docker keeps MKNOD only because its device cgroup refuses
 * every device but a few; sandboxlib has no device policy, so a node made
 * with a host disk's numbers would read and write the disk (every mount is
 * nodev too, but for --dev). docs/usage.md's Hardening section says why each
 * of these is safe in the sandbox.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
  "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "AUDIT_WRITE", "SETFCAP",
];

/** `set` without `names`: a backend's own defaults (e.g. no SYS_CHROOT where chroot can be escaped). */
export function withoutCapabilities(set: readonly string[], names: readonly string[]): string[] {
  const removed = new Set(names.map(capabilityName));
  return set.filter((name) => !removed.has(name));
}

/** "sys_admin", "CAP_SYS_ADMIN" and "SYS_ADMIN" all name the same one. */
export function capabilityName(raw: string): string {
  const name = raw.toUpperCase().replace(/^CAP_/, "");
  if (!(name in CAPABILITY_NUMBERS)) throw configError(`unknown capability: ${raw}`);
  return name;
}

/**
 * The capabilities the command keeps: the default set (DEFAULT_CAPABILITIES
 * unless a backend gives its own) minus the drops ("ALL" drops every one),
 * plus the adds, whatever order they came in (as Docker: --cap-drop ALL
 * --cap-add CHOWN keeps CHOWN).
 */
export function resolveCapabilities(add: readonly string[], drop: readonly string[], defaults: readonly string[] = DEFAULT_CAPABILITIES): string[] {
  const kept = new Set(defaults);
  for (const name of drop) {
    if (name.toUpperCase() === "ALL") kept.clear();
    else kept.delete(capabilityName(name));
  }
  for (const name of add) kept.add(capabilityName(name));
  return Object.keys(CAPABILITY_NUMBERS).filter((c) => kept.has(c));
}

/** Masks already computed, by the names' list: a batch asks for the same few sets again and again. */
const masks = new Map<string, bigint>();

/** A bit mask (bit N = capability N) of the named capabilities. */
export function capabilityMask(names: readonly string[]): bigint {
  const key = names.join(",");
  let mask = masks.get(key);
  if (mask !== undefined) return mask;
  mask = 0n;
  for (const name of names) mask |= 1n << BigInt(CAPABILITY_NUMBERS[capabilityName(name)]!);
  masks.set(key, mask);
  return mask;
}
