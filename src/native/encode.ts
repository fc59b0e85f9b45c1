// Lays out plan steps as the C structs of helper.c (struct sbx_step, 80
// bytes; struct sbx_spawn, 160 bytes). Every string and pointer array is kept
// referenced by the returned object until the native call is over.
import { ptr } from "bun:ffi";
import type { Step } from "../plan/steps.ts";

export const STEP_SIZE = 80;
export const SPAWN_SIZE = 176;

const OPCODES: Record<Step["op"], number> = {
  mount: 1,
  mkdirs: 2,
  "umount-handle": 3,
  chroot: 4,
  chdir: 5,
  "pivot-root": 6,
  sethostname: 7,
  dup2: 8,
  "close-from": 9,
  setsid: 10,
  exec: 11,
  setattr: 12,
  "open-root": 13,
  "fork-command": 14,
  rmdirs: 15,
  symlink: 16,
  mknod: 17,
  "loopback-up": 18,
  "open-fd": 19,
  "set-name": 20,
  "close-root": 21,
  "no-new-privs": 22,
  capabilities: 23,
  "set-ids": 24,
  seccomp: 25,
  rlimit: 26,
  "write-file": 27,
  "write-fd": 28,
  exit: 29,
};

export interface EncodedSteps {
  buffer: Uint8Array;
  count: number;
  /** Keeps the memory native code reads alive until the call is over. */
  keepAlive: unknown[];
  /** The `out` field of step i (created components, kept handles). */
  out(i: number): number;
}

/**
 * One buffer holds the step records and everything they point to (strings,
 * pointer arrays, filters): a single allocation and a single ptr() call per
 * plan, which is most of the cost of encoding on the warm path.
 */
class Arena {
  readonly buffer: Uint8Array;
  readonly view: DataView;
  readonly base: number;
  private offset: number;

  constructor(size: number, reserved: number) {
    this.buffer = new Uint8Array(size);
    this.view = new DataView(this.buffer.buffer);
    this.base = ptr(this.buffer);
    this.offset = reserved;
  }

  private take(bytes: number, align: number): number {
    const start = Math.ceil(this.offset / align) * align;
    if (start + bytes > this.buffer.length) throw new ArenaFull();
    this.offset = start + bytes;
    return start;
  }

  cstr(s: string | null): number {
    if (s === null) return 0;
    // Room for the worst case (3 bytes per UTF-16 unit); the rest is given back.
    const at = this.take(s.length * 3 + 1, 1);
    const { written } = utf8.encodeInto(s, this.buffer.subarray(at));
    this.buffer[at + written] = 0;
    this.offset = at + written + 1;
    return this.base + at;
  }

  cstrArray(items: readonly string[]): number {
    const pointers = items.map((s) => this.cstr(s));
    const at = this.take((pointers.length + 1) * 8, 8);
    pointers.forEach((p, i) => setInt64(this.view, at + 8 * i, p));
    setInt64(this.view, at + 8 * pointers.length, 0);
    return this.base + at;
  }

  bytes(data: Uint8Array, align: number): number {
    const at = this.take(data.length, align);
    this.buffer.set(data, at);
    return this.base + at;
  }
}

class ArenaFull extends Error {}

const utf8 = new TextEncoder();

/**
 * Stores a 64-bit integer, little-endian. Pointers, flags and descriptors
 * are safe integers and need no BigInt; masks and limits may be bigints.
 * (Plain typed arrays and DataView, not Buffer: loading Buffer costs about
 * 0.2 ms of a cold start, and the run path has no other use for it.)
 */
export function setInt64(view: DataView, offset: number, value: number | bigint): void {
  if (typeof value === "bigint") return view.setBigInt64(offset, BigInt.asIntN(64, value), true);
  const high = Math.floor(value / 0x1_0000_0000);
  view.setUint32(offset, value - high * 0x1_0000_0000, true);
  view.setInt32(offset + 4, high, true);
}

/** Reads what setInt64 stores (or native code wrote), as a number. */
export function getInt64(view: DataView, offset: number): number {
  return view.getInt32(offset + 4, true) * 0x1_0000_0000 + view.getUint32(offset, true);
}

export function encodeSteps(steps: readonly Step[], handles: readonly number[] = []): EncodedSteps {
  const reserved = Math.max(1, steps.length) * STEP_SIZE;
  for (let size = reserved + 16384; ; size *= 2) {
    try {
      return encodeInto(new Arena(size, reserved), steps, handles);
    } catch (e) {
      if (!(e instanceof ArenaFull)) throw e;
    }
  }
}

function encodeInto(arena: Arena, steps: readonly Step[], handles: readonly number[]): EncodedSteps {
  const { buffer, view } = arena;
  const str = (s: string | null) => arena.cstr(s);
  const strArray = (items: string[]) => arena.cstrArray(items);
  steps.forEach((step, i) => {
    const base = i * STEP_SIZE;
    let flags = 0;
    let a: number | bigint = 0;
    let b: number | bigint = 0;
    let c: number | bigint = 0;
    const s: number[] = [0, 0, 0, 0];
    switch (step.op) {
      case "mount":
        flags = (step.inRoot ? 1 : 0) | (step.sourceInRoot ? 2 : 0);
        a = step.flags;
        b = step.keepHandle ? 1 : 0;
        s[0] = str(step.source);
        s[1] = str(step.target);
        s[2] = str(step.fstype);
        s[3] = str(step.data);
        break;
      case "mkdirs":
        a = step.mode;
        b = step.file ? 1 : 0;
        s[0] = str(step.path);
        break;
      case "umount-handle": {
        const fd = handles[step.handleOf];
        if (fd === undefined) throw new Error(`no handle kept by step ${step.handleOf}`);
        a = fd;
        b = step.flags;
        break;
      }
      case "chroot":
      case "chdir":
      case "pivot-root":
      case "open-root":
        s[0] = str(step.path);
        break;
      case "sethostname":
      case "set-name":
        s[0] = str(step.name);
        break;
      case "dup2":
        a = step.from;
        b = step.to;
        break;
      case "close-from": {
        a = step.fd;
        b = step.keep.length;
        // A typed array's own numeric sort: Int32Array.from alone costs
        // 0.35 ms the first time it runs, a tenth of a cold run's TypeScript.
        const keep = new Int32Array(step.keep).sort();
        s[0] = keep.length ? arena.bytes(new Uint8Array(keep.buffer), 4) : 0;
        break;
      }
      case "capabilities":
        a = step.keep;
        b = step.setEffective ? 1 : 0;
        break;
      case "set-ids":
        a = step.uid;
        b = step.gid;
        break;
      case "seccomp":
        a = step.filter.length / 8;
        s[0] = arena.bytes(step.filter, 8);
        break;
      case "rlimit":
        a = step.resource;
        b = step.soft;
        c = step.hard;
        break;
      case "write-file":
        s[0] = str(step.path);
        s[1] = str(step.content);
        break;
      case "exit":
        a = step.status;
        break;
      case "write-fd":
        a = step.openedBy;
        s[0] = str(step.content);
        break;
      case "exec":
        s[0] = str(step.file);
        s[1] = strArray([...step.argv]);
        s[2] = strArray([...step.env]);
        s[3] = str(step.searchPath);
        break;
      case "setattr":
        a = step.set;
        b = step.clear;
        c = step.recursive ? 1 : 0;
        s[0] = str(step.path);
        break;
      case "rmdirs":
        a = step.count;
        b = step.file ? 1 : 0;
        s[0] = str(step.path);
        break;
      case "symlink":
        s[0] = str(step.target);
        s[1] = str(step.path);
        break;
      case "mknod":
        a = step.mode;
        b = step.dev;
        s[0] = str(step.path);
        break;
      case "open-fd":
        a = step.flags;
        b = step.mode;
        c = step.fd;
        s[0] = str(step.path);
        break;
      case "setsid":
      case "fork-command":
      case "loopback-up":
      case "close-root":
      case "no-new-privs":
        break;
    }
    view.setInt32(base, OPCODES[step.op], true);
    view.setInt32(base + 4, flags, true);
    setInt64(view, base + 8, a);
    setInt64(view, base + 16, b);
    setInt64(view, base + 24, c);
    s.forEach((p, k) => setInt64(view, base + 40 + 8 * k, p));
    setInt64(view, base + 72, -1);
  });
  return {
    buffer,
    count: steps.length,
    keepAlive: [buffer],
    out: (i) => getInt64(view, i * STEP_SIZE + 72),
  };
}
