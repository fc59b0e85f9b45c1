// Direct libc bindings: what the TypeScript side needs before and around a
// spawn (the child side lives in sandbox.c and steps.c). Every call goes through here.
import { dlopen, FFIType, ptr, read } from "bun:ffi";

const lib = dlopen("libc.so.6", {
  __errno_location: { args: [], returns: FFIType.ptr },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
  memfd_create: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
  pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  open: { args: [FFIType.cstring, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  kill: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  _exit: { args: [FFIType.i32], returns: FFIType.void },
  geteuid: { args: [], returns: FFIType.u32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  mknod: { args: [FFIType.cstring, FFIType.u32, FFIType.u64], returns: FFIType.i32 },
  isatty: { args: [FFIType.i32], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  gnu_get_libc_version: { args: [], returns: FFIType.cstring },
  statx: { args: [FFIType.i32, FFIType.cstring, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
  access: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  realpath: { args: [FFIType.cstring, FFIType.ptr], returns: FFIType.ptr },
});

const errnoView = (() => {
  const p = lib.symbols.__errno_location();
  if (p === null) throw new Error("libc: __errno_location returned NULL");
  return p;
})();


/** errno of the last failing libc call on this thread. */
export function errno(): number {
  return read.i32(errnoView, 0);
}

/** The C library's text for an errno value ("No such file or directory"). */
export function strerror(err: number): string {
  return String(lib.symbols.strerror(err));
}

/** An Error carrying errno, with the call and the value it was about. */
export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly subject?: string,
  ) {
    super(`${call}${subject === undefined ? "" : ` ${subject}`}: ${strerror(errno)}`);
  }
}

function check(call: string, r: number | bigint, subject?: string): number {
  const n = Number(r);
  if (n < 0) throw new SysError(call, errno(), subject);
  return n;
}

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_CREAT = 0o100;
export const O_TRUNC = 0o1000;
export const O_CLOEXEC = 0o2000000;
const MFD_CLOEXEC = 1;

const utf8 = new TextEncoder();
const cstr = (s: string) => utf8.encode(`${s}\0`);

export function memfdCreate(name: string): number {
  return check("memfd_create", lib.symbols.memfd_create(cstr(name), MFD_CLOEXEC), name);
}

/** A pipe whose both ends are close-on-exec: [read, write]. */
export function pipe(): [number, number] {
  const fds = new Int32Array(2);
  check("pipe2", lib.symbols.pipe2(ptr(fds), O_CLOEXEC));
  return [fds[0]!, fds[1]!];
}

export function open(path: string, flags: number, mode = 0o666): number {
  return check("open", lib.symbols.open(cstr(path), flags | O_CLOEXEC, mode), path);
}

const EINTR = 4;
const EAGAIN = 11;

/** Writes all of `data`, waiting (poll) when `fd` is non-blocking and full. */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    const chunk = data.subarray(off);
    const n = Number(lib.symbols.write(fd, ptr(chunk), chunk.length));
    if (n >= 0) {
      off += n;
      continue;
    }
    const err = errno();
    if (err === EAGAIN) {
      const pfd = new Int32Array([fd, 4 /* POLLOUT */]);
      lib.symbols.poll(ptr(pfd), 1, -1);
    } else if (err !== EINTR) throw new SysError("write", err, `fd ${fd}`);
  }
}

/**
 * Reads what `fd` (non-blocking) has now into `buf`: the byte count, 0 at
 * end of file, or -1 when nothing is there yet.
 */
export function readAvailable(fd: number, buf: Uint8Array): number {
  for (;;) {
    const n = Number(lib.symbols.read(fd, ptr(buf), buf.length));
    if (n >= 0) return n;
    const err = errno();
    if (err === EAGAIN) return -1;
    if (err !== EINTR) throw new SysError("read", err, `fd ${fd}`);
  }
}

/** Makes reads of a fresh pipe's read end return at once when there is nothing to read (its other status flags are cleared). */
export function setNonBlocking(fd: number): void {
  const F_SETFL = 4;
  const O_NONBLOCK = 0o4000;
  check("fcntl", lib.symbols.fcntl(fd, F_SETFL, O_NONBLOCK), `fd ${fd}`);
}

/**
 * Text, as UTF-8, to `fd`: sandboxlib's stdout and stderr, result and status
 * descriptors. Plain write(2): Bun's process.stdout costs about 9 ms to set
 * up, more than a whole sandbox.
 */
export function writeText(fd: number, text: string): void {
  writeAll(fd, utf8.encode(text));
}

export function isatty(fd: number): boolean {
  return lib.symbols.isatty(fd) === 1;
}

export function close(fd: number): void {
  lib.symbols.close(fd);
}

/** kill(2); returns false when the process is already gone. */
export function kill(pid: number, signal: number): boolean {
  return lib.symbols.kill(pid, signal) === 0;
}

export function geteuid(): number {
  return lib.symbols.geteuid();
}

/** A close-on-exec duplicate of `fd` numbered 3 or above. */
export function dupAbove2(fd: number): number {
  const F_DUPFD_CLOEXEC = 1030;
  return check("dup", lib.symbols.fcntl(fd, F_DUPFD_CLOEXEC, 3), `fd ${fd}`);
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2); false when a non-blocking request would block. */
export function flock(fd: number, operation: number): boolean {
  return lib.symbols.flock(fd, operation) === 0;
}

/** glibc's makedev: minor's low byte, major's low 12 bits, then the high bits. */
function makedev(major: number, minor: number): bigint {
  return BigInt(minor & 0xff) | (BigInt(major & 0xfff) << 8n) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n);
}

/** mknod(2): a device node or FIFO at `path`. */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  check("mknod", lib.symbols.mknod(cstr(path), mode, makedev(major, minor)), path);
}

// The host file system queries of the `run` path. They are made here rather
// than with node:fs, whose loading alone costs about a millisecond at start-up
// (more than a third of a whole sandbox); code off that path uses node:fs.

export interface FileStat {
  isDirectory: boolean;
  /** st_dev and st_ino, as stat(2) gives them. */
  dev: bigint;
  ino: bigint;
}

const AT_FDCWD = -100;
const STATX_TYPE_INO = 0x1 | 0x100;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const ENOENT = 2;
const ENOTDIR = 20;

/** stat(2), following symlinks; null when there is nothing at `path`. */
export function stat(path: string): FileStat | null {
  const buf = new DataView(new ArrayBuffer(256));
  if (lib.symbols.statx(AT_FDCWD, cstr(path), 0, STATX_TYPE_INO, ptr(buf)) !== 0) {
    const err = errno();
    if (err === ENOENT || err === ENOTDIR) return null;
    throw new SysError("stat", err, path);
  }
  // struct statx: stx_mode at 28, stx_ino at 32, stx_dev_major/minor at 136/140.
  return {
    isDirectory: (buf.getUint16(28, true) & S_IFMT) === S_IFDIR,
    dev: makedev(buf.getUint32(136, true), buf.getUint32(140, true)),
    ino: buf.getBigUint64(32, true),
  };
}

/** Is there anything at `path` (following symlinks)? */
export function exists(path: string): boolean {
  return lib.symbols.access(cstr(path), 0 /* F_OK */) === 0;
}

/** realpath(3): the absolute path with every symlink, '.' and '..' resolved. */
export function realPath(path: string): string {
  const out = new Uint8Array(4096 /* PATH_MAX */);
  if (lib.symbols.realpath(cstr(path), ptr(out)) === null) throw new SysError("realpath", errno(), path);
  return new TextDecoder().decode(out.subarray(0, out.indexOf(0)));
}

/** The C library's version ("2.36"). */
export function glibcVersion(): string {
  return String(lib.symbols.gnu_get_libc_version());
}

/** Is `fd` an open file descriptor of this process? */
export function isOpenFd(fd: number): boolean {
  const F_GETFD = 1;
  return lib.symbols.fcntl(fd, F_GETFD, 0) >= 0;
}

/** Lets `fd` survive an exec of this process (clears FD_CLOEXEC); false when it is not open. */
export function keepOpenOnExec(fd: number): boolean {
  const F_SETFD = 2;
  return lib.symbols.fcntl(fd, F_SETFD, 0) >= 0;
}

/** Ends the process at once with `status`: no exit handlers, no engine teardown. */
export function exitNow(status: number): never {
  lib.symbols._exit(status);
  throw new Error("_exit returned");
}
