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
} as const;

// Bound on first use: most runs create no mount point and never probe.
let bound: ReturnType<typeof dlopen<typeof symbols>>["symbols"] | undefined;
const libc = () => (bound ??= dlopen("libc.so.6", symbols).symbols);

const SYS_OPENAT2 = 437; // the same number on x86_64 and aarch64
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_IN_ROOT = 0x10;
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE_SIZE = 0x1 | 0x200;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const ENOENT = 2;

const utf8 = new TextEncoder();

export type Presence = "present" | "missing" | "unreachable";

export interface RootProbe {
  /** Whether `path` (canonical, in the root) resolves: "unreachable" for any error but ENOENT (a file in the way, a loop, ...). */
  presence(path: string): Presence;
  /** Whether `path` is an empty regular file (as a file mount point sandboxlib created is). */
  isEmptyFile(path: string): boolean;
}

/** A probe of the root open as `rootFd` (any descriptor of its directory). */
export function probeRoot(rootFd: number): RootProbe {
  const how = new BigUint64Array([BigInt(O_PATH | O_CLOEXEC), 0n, BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)]);
  const openInRoot = (path: string): number => {
    const name = utf8.encode(`${path === "" ? "." : path}\0`);
    return Number(libc().syscall(SYS_OPENAT2, rootFd, ptr(name), ptr(how), how.byteLength));
  };
  return {
    presence(path) {
      const fd = openInRoot(path);
      if (fd >= 0) {
        libc().close(fd);
        return "present";
      }
      return errno() === ENOENT ? "missing" : "unreachable";
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
