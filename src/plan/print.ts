// A plan as JSON, for `sandboxlib run --print-plan`: what the sandbox's
// process would do, step by step, with flags by name. Pure: it reads the
// plan and nothing else.
import * as K from "../base/kernel-constants.ts";
import { CAPABILITY_NUMBERS } from "../hardening/capabilities.ts";
import { RLIM_INFINITY } from "../hardening/rlimits.ts";
import type { SandboxPlan } from "./sandbox-plan.ts";
import { describeStep, type Step } from "./steps.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const table = (prefix: string) =>
  Object.entries(K)
    .filter(([name]) => name.startsWith(prefix))
    .map(([name, bit]) => [name, bit as number] as const)
    .sort((a, b) => a[1] - b[1]);
const CLONE_FLAGS = table("CLONE_");
const MOUNT_FLAGS = table("MS_");
const MOUNT_ATTRS = table("MOUNT_ATTR_");

/** The names of the bits set in `value`; bits without a name as one hex number at the end. */
export function flagNames(value: number, names: readonly (readonly [string, number])[]): string[] {
  const out: string[] = [];
  let rest = value >>> 0;
  for (const [name, bit] of names) {
    if (bit !== 0 && (rest & bit) === bit) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out;
}

/** Capability names of a mask, in capability order. */
function capabilityNames(mask: bigint): string[] {
  return Object.entries(CAPABILITY_NUMBERS)
    .filter(([, n]) => (mask >> BigInt(n)) & 1n)
    .sort(([, a], [, b]) => a - b)
    .map(([name]) => name);
}

const limit = (v: bigint): Json => (v === RLIM_INFINITY ? "unlimited" : v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());
const octal = (mode: number) => `0${mode.toString(8)}`;

/** One step as a JSON object: its op, what it does in words, then its fields (flags by name, no filter bytes). */
export function printableStep(step: Step): Record<string, Json> {
  const out: Record<string, Json> = { op: step.op, what: describeStep(step) };
  for (const [key, value] of Object.entries(step)) {
    if (key === "op" || value === undefined) continue;
    out[key] = value as Json;
  }
  switch (step.op) {
    case "mount":
      out.flags = flagNames(step.flags, MOUNT_FLAGS);
      break;
    case "setattr":
      out.set = flagNames(step.set, MOUNT_ATTRS);
      out.clear = flagNames(step.clear, MOUNT_ATTRS);
      break;
    case "mkdirs":
    case "mknod":
    case "open-fd":
      out.mode = octal(step.mode);
      if (step.op === "open-fd") out.flags = octal(step.flags);
      break;
    case "capabilities":
      out.keep = capabilityNames(step.keep);
      break;
    case "rlimit":
      out.soft = limit(step.soft);
      out.hard = limit(step.hard);
      break;
    case "seccomp":
      // A length, not the program: struct sock_filter is 8 bytes.
      delete out.filter;
      out.filterInstructions = step.filter.byteLength / 8;
      break;
    case "close-from":
      out.keep = [...step.keep];
      break;
    case "exec":
      out.argv = [...step.argv];
      out.env = [...step.env];
      break;
  }
  return out;
}

/** The plan as one JSON object. `extra` (stdio as given, say) goes in after the backend. */
export function printablePlan(backend: string, plan: SandboxPlan, extra: Record<string, Json> = {}): Record<string, Json> {
  return {
    backend,
    ...extra,
    root: plan.root,
    createsMountPoints: plan.createsMountPoints,
    cloneFlags: flagNames(plan.cloneFlags, CLONE_FLAGS),
    child: plan.child.map(printableStep),
  };
}
