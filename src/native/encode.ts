// Lays out plan steps as struct sbx_step records (src/native/layout.ts).
// Every string and pointer array is kept referenced by the returned object
// until the native call is over.
import { ptr } from "bun:ffi";
import type { Step } from "../base/steps.ts";
import { OFFSETS } from "./offsets.ts";

const STEP_SIZE = OFFSETS.stepSize;
const OUT = OFFSETS.step.out;
const OP = OFFSETS.step.op;
const FLAGS = OFFSETS.step.flags;
const STEP_FLAGS = OFFSETS.flags;

const A = OFFSETS.args;
const LAUNCHER = OFFSETS.launcher;

/**
 * The launcher's arguments before the command's argv (LAUNCH_ARGS in
 * layout.ts): the descriptors and statuses ("-" here) are filled in by the
 * command process, which alone knows them.
 */
function launcherArgs(file: string, searchPath: string | null): string[] {
  return [LAUNCHER.name, "-", "-", "-", "-", "-", file, searchPath === null ? "0" : "1", searchPath ?? ""];
}
const OPCODES = OFFSETS.codes;

export interface EncodedSteps {
  buffer: Uint8Array;
  count: number;
  /** Keeps the memory native code reads alive until the call is over. */
  keepAlive: unknown[];
  /** The `out` field of step i (created components, opened descriptors). */
  out(i: number): number;
}

/**
 * One buffer holds the step records and everything they point to (strings,
 * pointer arrays, filters): a single allocation and a single ptr() call per
 * plan, which is most of the cost of encoding on the warm path. Strings are
 * gathered while the records are laid out and written at the end, all of
 * them with one encodeInto when they are ASCII (most plans), their pointers
 * then filled in where they were asked for.
 */
class Arena {
  readonly buffer: Uint8Array;
  /** The same memory as 32-bit words, for 64-bit fields (see put64). */
  readonly words: Uint32Array;
  readonly base: number;
  private offset: number;
  /** Strings to write, and the byte offset of the pointer to each. */
  private readonly strings: string[] = [];
  private readonly sites: number[] = [];

  constructor(size: number, reserved: number) {
    this.buffer = new Uint8Array(size);
    this.words = new Uint32Array(this.buffer.buffer);
    this.base = ptr(this.buffer);
    this.offset = reserved;
  }

  private take(bytes: number, align: number): number {
    const start = Math.ceil(this.offset / align) * align;
    if (start + bytes > this.buffer.length) throw new ArenaFull();
    this.offset = start + bytes;
    return start;
  }

  /** Points the 64-bit field at byte `site` to `s` (NUL-terminated UTF-8), or NULL. */
  cstrAt(site: number, s: string | null): void {
    if (s === null) return; // the fresh arena holds NULL there
    this.strings.push(s);
    this.sites.push(site);
  }

  /** Points the field at `site` to a NULL-terminated array of `items`. */
  cstrArrayAt(site: number, items: readonly string[]): void {
    put64(this.words, site, this.cstrArray(items));
  }

  /** A NULL-terminated array of `items` (the fresh arena holds the NULL); returns its address. */
  cstrArray(items: readonly string[]): number {
    const at = this.take((items.length + 1) * 8, 8);
    for (let i = 0; i < items.length; i++) this.cstrAt(at + 8 * i, items[i]!);
    return this.base + at;
  }

  bytes(data: Uint8Array, align: number): number {
    const at = this.take(data.length, align);
    this.buffer.set(data, at);
    return this.base + at;
  }

  /** UTF-8 of `s` at the current offset, NUL-terminated; returns where it starts. */
  private encode(s: string): number {
    const at = this.offset;
    if (at >= this.buffer.length) throw new ArenaFull(); // not even room for the NUL
    // The last byte stays for the NUL; encodeInto stops where room ends.
    const { read, written } = utf8.encodeInto(s, this.buffer.subarray(at, this.buffer.length - 1));
    if (read < s.length) throw new ArenaFull();
    this.buffer[at + written] = 0;
    this.offset = at + written + 1;
    return at;
  }

  /** Writes the gathered strings and fills in their pointers. */
  writeStrings(): void {
    const { strings, sites, words } = this;
    if (strings.length === 0) return;
    // Each string ends with the NUL that joins it to the next.
    const joined = strings.join("\0");
    const at = this.encode(joined);
    if (this.offset - at === joined.length + 1) {
      // ASCII: a string's bytes start where its characters do.
      for (let i = 0, next = at; i < strings.length; next += strings[i]!.length + 1, i++) put64(words, sites[i]!, this.base + next);
      return;
    }
    // Not all ASCII: one string at a time, where the joined bytes were.
    this.buffer.fill(0, at, this.offset);
    this.offset = at;
    for (let i = 0; i < strings.length; i++) put64(words, sites[i]!, this.base + this.encode(strings[i]!));
  }

  /** How much of the arena the plan took. */
  get used(): number {
    return this.offset;
  }
}

class ArenaFull extends Error {}

const utf8 = new TextEncoder();

/**
 * Stores a 64-bit integer, little-endian, into 32-bit words (`at`, in bytes,
 * a multiple of 8). Pointers, flags and descriptors are safe integers and
 * need no BigInt; masks and limits may be bigints. Indexed stores, where
 * DataView's methods are calls into the engine for each field until its
 * optimizing compiler has inlined them (batch runs without it); and plain
 * typed arrays, not Buffer, which costs about 0.2 ms of a cold start to load.
 */
export function put64(words: Uint32Array, at: number, value: number | bigint): void {
  const i = at >> 2;
  if (typeof value === "bigint") {
    const v = BigInt.asUintN(64, value);
    words[i] = Number(v & 0xffff_ffffn);
    words[i + 1] = Number(v >> 32n);
    return;
  }
  const high = Math.floor(value / 0x1_0000_0000);
  words[i] = value - high * 0x1_0000_0000;
  words[i + 1] = high; // a negative high word wraps to its two's complement
}

/** Reads what put64 stores (or native code wrote), as a number. */
export function get64(words: Uint32Array, at: number): number {
  const i = at >> 2;
  return (words[i + 1]! | 0) * 0x1_0000_0000 + words[i]!;
}

/**
 * Room beyond the records for the next plan: ample for the first (a retry
 * costs more than zeroing a few KiB), then what the last one took and half
 * again, since a batch's plans look alike.
 */
let roomHint = 16384;

export function encodeSteps(steps: readonly Step[]): EncodedSteps {
  const reserved = Math.max(1, steps.length) * STEP_SIZE;
  for (let size = reserved + roomHint; ; size *= 2) {
    try {
      const arena = new Arena(size, reserved);
      const encoded = encodeInto(arena, steps);
      roomHint = Math.max(4096, Math.ceil(((arena.used - reserved) * 3) / 2 / 8) * 8);
      return encoded;
    } catch (e) {
      if (!(e instanceof ArenaFull)) throw e;
    }
  }
}

function encodeInto(arena: Arena, steps: readonly Step[]): EncodedSteps {
  const { buffer, words } = arena;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const base = i * STEP_SIZE;
    const str = (at: number, s: string | null) => arena.cstrAt(base + at, s);
    // The arena is fresh: zero fields are written already.
    const num = (at: number, v: number | bigint) => {
      if (v !== 0 && v !== 0n) put64(words, base + at, v);
    };
    let flags = 0;
    switch (step.op) {
      case "mount": {
        const a = A.mount;
        flags = (step.inRoot ? STEP_FLAGS.IN_ROOT : 0) | (step.sourceInRoot ? STEP_FLAGS.SOURCE_IN_ROOT : 0) | (step.optional ? STEP_FLAGS.OPTIONAL : 0);
        num(a.mount_flags, step.flags);
        str(a.source, step.source);
        str(a.target, step.target);
        str(a.fstype, step.fstype);
        str(a.data, step.data);
        break;
      }
      case "mkdirs":
        num(A.mkdirs.mode, step.mode);
        num(A.mkdirs.file, step.file ? 1 : 0);
        str(A.mkdirs.path, step.path);
        break;
      case "pivot-root":
        num(A["pivot-root"].move_fallback, step.moveFallback ? 1 : 0);
        str(A["pivot-root"].path, step.path);
        break;
      case "chroot":
        str(A.chroot.path, step.path);
        break;
      case "chdir":
        str(A.chdir.path, step.path);
        break;
      case "open-root":
        str(A["open-root"].path, step.path);
        break;
      case "sethostname":
        str(A.sethostname.name, step.name);
        break;
      case "dup2":
        num(A.dup2.from, step.from);
        num(A.dup2.to, step.to);
        break;
      case "close-from": {
        num(A["close-from"].first, step.fd);
        num(A["close-from"].nkeep, step.keep.length);
        // A typed array's own numeric sort: Int32Array.from alone costs
        // 0.35 ms the first time it runs, a tenth of a cold run's TypeScript.
        const keep = new Int32Array(step.keep).sort();
        if (keep.length) put64(words, base + A["close-from"].keep, arena.bytes(new Uint8Array(keep.buffer), 4));
        break;
      }
      case "capabilities":
        num(A.capabilities.keep, step.keep);
        num(A.capabilities.set_effective, step.setEffective ? 1 : 0);
        num(A.capabilities.pivot_step, step.pivotStep === undefined ? 0 : step.pivotStep + 1);
        break;
      case "set-ids":
        num(A["set-ids"].uid, step.uid);
        num(A["set-ids"].gid, step.gid);
        break;
      case "seccomp":
        num(A.seccomp.len, step.filter.length / 8);
        put64(words, base + A.seccomp.filter, arena.bytes(step.filter, 8));
        break;
      case "rlimit":
        num(A.rlimit.resource, step.resource);
        num(A.rlimit.soft, step.soft);
        num(A.rlimit.hard, step.hard);
        break;
      case "exit":
        num(A.exit.status, step.status);
        break;
      case "write-fd":
        num(A["write-fd"].opened_by, step.openedBy);
        str(A["write-fd"].text, step.content);
        break;
      case "exec":
        str(A.exec.file, step.file);
        {
          // One array: the launcher's arguments, then the command's argv,
          // which the launcher passes on from where it starts.
          const launch = arena.cstrArray([...launcherArgs(step.file, step.searchPath), ...step.argv]);
          put64(words, base + A.exec.launch_argv, launch);
          put64(words, base + A.exec.argv, launch + 8 * LAUNCHER.argc);
        }
        arena.cstrArrayAt(base + A.exec.envp, step.env);
        str(A.exec.search_path, step.searchPath);
        num(A.exec.after_launcher, step.afterLauncher ? 1 : 0);
        break;
      case "setattr":
        flags = step.optional ? STEP_FLAGS.OPTIONAL : 0;
        num(A.setattr.attr_set, step.set);
        num(A.setattr.attr_clr, step.clear);
        num(A.setattr.recursive, step.recursive ? 1 : 0);
        str(A.setattr.path, step.path);
        break;
      case "rmdirs":
        num(A.rmdirs.count, step.count);
        num(A.rmdirs.file, step.file ? 1 : 0);
        str(A.rmdirs.path, step.path);
        break;
      case "symlink":
        str(A.symlink.target, step.target);
        str(A.symlink.path, step.path);
        break;
      case "mknod":
        num(A.mknod.mode, step.mode);
        num(A.mknod.dev, step.dev);
        str(A.mknod.path, step.path);
        break;
      case "open-fd":
        num(A["open-fd"].flags, step.flags);
        num(A["open-fd"].mode, step.mode);
        num(A["open-fd"].fd, step.fd);
        str(A["open-fd"].path, step.path);
        break;
      case "setsid":
      case "fork-command":
      case "loopback-up":
      case "close-root":
      case "no-new-privs":
      case "private-root":
        break;
    }
    words[(base + OP) >> 2] = OPCODES[step.op];
    words[(base + FLAGS) >> 2] = flags;
    put64(words, base + OUT, -1);
  }
  arena.writeStrings();
  return {
    buffer,
    count: steps.length,
    keepAlive: [buffer],
    out: (i) => get64(words, i * STEP_SIZE + OUT),
  };
}
