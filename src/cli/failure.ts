// How sandboxlib reports its own failures: every expected failure is a
// SandboxError with a message that names what failed; errors from system
// calls (ENOSPC, EROFS, EBADF...) are named after the call and the reason,
// never "internal error", which is kept for what is truly a bug.
import { oneLine, SandboxError } from "../base/errors.ts";
import { strerror, SysError, writeText } from "../native/libc.ts";

const EPIPE = 32;
/** What a process killed by SIGPIPE exits with, as seen by a shell. */
export const EXIT_OUTPUT_CLOSED = 128 + 13;

/** Whoever read sandboxlib's output stopped reading (`| head`). */
export function isClosedOutput(e: unknown): boolean {
  return e instanceof SysError && e.call === "write" && e.errno === EPIPE;
}

/** A node:fs style error: `code` "ENOSPC", `errno` -28, `syscall`, `path`. */
function errnoOf(e: unknown): { errno: number; syscall?: string; path?: string } | null {
  const x = e as { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown } | null;
  if (!(e instanceof Error) || typeof x?.code !== "string" || !x.code.startsWith("E") || typeof x.errno !== "number") return null;
  return {
    errno: Math.abs(x.errno),
    syscall: typeof x.syscall === "string" ? x.syscall : undefined,
    path: typeof x.path === "string" ? x.path : undefined,
  };
}

/** Why a system call failed, in the C library's words ("No space left on device"), else the error's message. */
export function reasonOf(e: unknown): string {
  if (e instanceof SysError) return strerror(e.errno);
  const sys = errnoOf(e);
  return sys ? strerror(sys.errno) : e instanceof Error ? e.message : String(e);
}

/** Any failure as a SandboxError (exit status 125 unless it says otherwise). */
export function asSandboxError(e: unknown): SandboxError {
  if (e instanceof SandboxError) return e;
  if (e instanceof SysError) return new SandboxError("setup", `cannot ${e.message}`);
  const sys = errnoOf(e);
  if (sys) {
    const what = [sys.syscall ?? "do it", sys.path].filter((part) => part !== undefined).join(" ");
    return new SandboxError("setup", `cannot ${what}: ${strerror(sys.errno)}`);
  }
  return new SandboxError("setup", `internal error: ${e instanceof Error ? e.message : String(e)}`);
}

/**
 * Writes `sandboxlib: MESSAGE` as one line on stderr. A message that cannot be
 * written (stderr full, a reader gone) is lost: the exit status says the rest.
 */
export function say(message: string): void {
  try {
    writeText(2, `sandboxlib: ${oneLine(message)}\n`);
  } catch {
    // Nowhere left to say it.
  }
}

/** sandboxlib's own output (stdout, --status-fd) could not be written. */
export class OutputWriteError extends SandboxError {
  constructor(where: string, errno: number) {
    super("setup", `cannot write to ${where}: ${strerror(errno)}`);
  }
}

/** A warning on stderr, lost like any message when stderr cannot be written. */
export const warn = (message: string) => say(`warning: ${message}`);

/**
 * Runs `write` (output that is sandboxlib's result: stdout, --status-fd) and
 * names where it failed. A closed reader (EPIPE) passes through as it is.
 */
export function writingTo<T>(where: string, write: () => T): T {
  try {
    return write();
  } catch (e) {
    if (isClosedOutput(e) || !(e instanceof SysError)) throw e;
    throw new OutputWriteError(where, e.errno);
  }
}
