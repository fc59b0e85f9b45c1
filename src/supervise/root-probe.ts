// Looks at paths inside a sandbox root the way the plan's steps reach them:
// openat2 with RESOLVE_IN_ROOT from a descriptor of the root, so that a
// symlink in the root (absolute, or full of "..") is followed as if the root
// were "/" and never leads to the host. An lstat through the host path would
// follow such a symlink out of the root.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { errno } from "../native/libc.ts";

const symbols = {
  syscall: { args: [FFIType.i64, FFIType.i64, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  statx: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  readlinkat: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
} as const;

// Bound on first use: most runs create no mount point and never probe.
let bound: ReturnType<typeof dlopen<typeof symbols>>["symbols"] | undefined;
const libc = () => (bound ??= dlopen("libc.so.6", symbols).symbols);

const SYS_OPENAT2 = 437; // the same number on x86_64 and aarch64
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const O_NOFOLLOW = 0o400000;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_IN_ROOT = 0x10;
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE_SIZE = 0x1 | 0x200;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const ENOENT = 2;

const utf8 = new TextEncoder();

export type Presence = "present" | "missing" | "unreachable";

/** A symlink in the root (canonical path) whose destination is not there; `target` is its link text. */
export interface DanglingSymlink {
  path: string;
  target: string;
}

export interface RootProbe {
  /** Whether `path` (canonical, in the root) resolves: "unreachable" for any error but ENOENT (a file in the way, a loop, ...). */
  presence(path: string): Presence;
  /** Whether `path` is an empty regular file (as a file mount point sandboxlib created is). */
  isEmptyFile(path: string): boolean;
  /**
   * The first component of `path` that is a symlink whose destination does
   * not exist inside the root (what a mkdir there refuses with EEXIST): its
   * canonical path and its link text; null when there is none.
   */
  danglingSymlink(path: string): DanglingSymlink | null;
}

/** A probe of the root open as `rootFd` (any descriptor of its directory). */
export function probeRoot(rootFd: number): RootProbe {
  const how = new BigUint64Array([BigInt(O_PATH | O_CLOEXEC), 0n, BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)]);
  const howNoFollow = new BigUint64Array([BigInt(O_PATH | O_CLOEXEC | O_NOFOLLOW), 0n, BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)]);
  const openInRoot = (path: string, h = how): number => {
    const name = utf8.encode(`${path === "" ? "." : path}\0`);
    return Number(libc().syscall(SYS_OPENAT2, rootFd, ptr(name), ptr(h), h.byteLength));
  };
  /** The text of `path` if it is a symlink itself (its last component not followed). */
  const linkText = (path: string): string | null => {
    const fd = openInRoot(path, howNoFollow);
    if (fd < 0) return null;
    try {
      const st = new DataView(new ArrayBuffer(256));
      if (libc().statx(fd, ptr(utf8.encode("\0")), AT_EMPTY_PATH, STATX_TYPE_SIZE, ptr(st)) !== 0) return null;
      if ((st.getUint16(28, true) & S_IFMT) !== S_IFLNK) return null;
      const buf = new Uint8Array(4096);
      const n = Number(libc().readlinkat(fd, ptr(utf8.encode("\0")), ptr(buf), buf.length));
      return n >= 0 ? new TextDecoder().decode(buf.subarray(0, n)) : null;
    } finally {
      libc().close(fd);
    }
  };
  const presence = (path: string): Presence => {
    const fd = openInRoot(path);
    if (fd >= 0) {
      libc().close(fd);
      return "present";
    }
    return errno() === ENOENT ? "missing" : "unreachable";
  };
  return {
    presence,
    danglingSymlink(path) {
      const parts = path.split("/").filter((p) => p !== "");
      for (let i = 1; i <= parts.length; i++) {
        const prefix = parts.slice(0, i).join("/");
        const target = linkText(prefix);
        if (target !== null && presence(prefix) === "missing") return { path: prefix, target };
        // Past a component that is not there, nothing further is.
        if (target === null && presence(prefix) !== "present") return null;
      }
      return null;
    },
    isEmptyFile(path) {
      const fd = openInRoot(path);
      if (fd < 0) return false;
      const buf = new DataView(new ArrayBuffer(256));
      const got = libc().statx(fd, ptr(utf8.encode("\0")), AT_EMPTY_PATH, STATX_TYPE_SIZE, ptr(buf)) === 0;
      libc().close(fd);
      // struct statx: stx_mode at 28, stx_size at 40.
      return got && (buf.getUint16(28, true) & S_IFMT) === S_IFREG && buf.getBigUint64(40, true) === 0n;
    },
  };
}
