// The capabilities sandboxlib itself holds. A container gives its processes
// a reduced set (Docker a80425fb, Podman 800405fb): the command can only get
// what its caller holds, so the default set is intersected with it, and a
// --cap-add of one the caller lacks is refused by name. Read once per
// process from /proc/self/status (CapPrm, CapBnd, CapEff).
import { configError } from "../base/errors.ts";
import { close, O_RDONLY, open, readAvailable } from "../native/libc.ts";
import { CAPABILITY_NUMBERS, capabilityName } from "./capabilities.ts";

export interface CallerCapabilities {
  effective: bigint;
  permitted: bigint;
  bounding: bigint;
}

/** Every capability: what is assumed when /proc/self/status cannot be read (the kernel then decides). */
const ALL = (1n << 64n) - 1n;

/** CapEff, CapPrm and CapBnd of a /proc/PID/status text; a missing line counts as every capability. */
export function parseCapabilityStatus(text: string): CallerCapabilities {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s*([0-9a-fA-F]+)$`, "m").exec(text);
    return m ? BigInt(`0x${m[1]}`) : ALL;
  };
  return { effective: field("CapEff"), permitted: field("CapPrm"), bounding: field("CapBnd") };
}

function readStatus(): string | null {
  let fd: number;
  try {
    fd = open("/proc/self/status", O_RDONLY);
  } catch {
    return null;
  }
  try {
    const buf = new Uint8Array(8192);
    let used = 0;
    for (;;) {
      const n = readAvailable(fd, buf.subarray(used));
      if (n <= 0) break;
      used += n;
      if (used === buf.length) break;
    }
    return new TextDecoder().decode(buf.subarray(0, used));
  } catch {
    return null;
  } finally {
    close(fd);
  }
}

let cached: CallerCapabilities | undefined;

/** This process's capabilities, read once. */
export function callerCapabilities(): CallerCapabilities {
  if (cached) return cached;
  const text = readStatus();
  return (cached = text === null ? { effective: ALL, permitted: ALL, bounding: ALL } : parseCapabilityStatus(text));
}

const bit = (name: string) => 1n << BigInt(CAPABILITY_NUMBERS[name] ?? 63);

/** Whether `caps` lets the command be given capability `name`: permitted now, and kept across exec (bounding set). */
export function holdsIn(caps: CallerCapabilities, name: string): boolean {
  return (caps.permitted & caps.bounding & bit(name)) !== 0n;
}

/** Whether this process holds `name` in its effective set (what the kernel checks for its own calls). */
export function canUse(name: string, caps: CallerCapabilities = callerCapabilities()): boolean {
  return (caps.effective & bit(name)) !== 0n;
}

/** A capability set as the kernel shows it (00000000a80425fb). */
export function hexSet(mask: bigint): string {
  return mask.toString(16).padStart(16, "0");
}

/**
 * The capabilities the command keeps: `resolved` (the default set with
 * --cap-add and --cap-drop applied) without those the caller lacks. A
 * capability asked for by --cap-add that the caller lacks is an error naming
 * it; with `dropUnheld` (--degrade) a warning instead.
 */
export function heldCapabilities(
  resolved: readonly string[],
  added: readonly string[],
  caps: CallerCapabilities = callerCapabilities(),
  dropUnheld: ((message: string) => void) | null = null,
): string[] {
  const kept: string[] = [];
  for (const name of resolved) {
    if (holdsIn(caps, name)) {
      kept.push(name);
      continue;
    }
    // Left out of the default set quietly; asked for by name, said.
    if (!added.some((a) => capabilityName(a) === name)) continue;
    const message = `--cap-add ${name}: sandboxlib does not hold CAP_${name} here (its capability set is ${hexSet(caps.permitted & caps.bounding)}, as a container gives), so the command cannot get it`;
    if (!dropUnheld) throw configError(`${message}; give it to the container (docker run --cap-add ${name}) or use --degrade to run without it`);
    dropUnheld(`${message}: running without it`);
  }
  return kept;
}
