// --jobserver: the caller's make jobserver reaches the command, so that a
// make run in the sandbox (a recipe `+sandboxlib run --jobserver -- make`)
// takes part in the caller's -j instead of falling back to -j1. make names
// its jobserver in MAKEFLAGS: `--jobserver-auth=R,W` (two descriptors, make
// 4.2 and 4.3; `--jobserver-fds=R,W` before) or `--jobserver-auth=fifo:PATH`
// (make 4.4). The descriptors are passed on as --pass-fd passes them (only
// ones inherited from the caller); the fifo is bound into the sandbox at its
// own path, writable; MAKEFLAGS is kept even with --clear-env or a config's
// env. A jobserver that cannot be passed is a one-line warning, and the
// command runs without it, as make itself does.
import type { SandboxOptions } from "../config/options.ts";
import { isOpenFd } from "../native/libc.ts";
import { nodeFs } from "../native/node-fs.ts";
import { notInheritedReason } from "./inherited-fds.ts";

export type Jobserver = { kind: "fds"; read: number; write: number; auth: string } | { kind: "fifo"; path: string; auth: string };

/**
 * The jobserver MAKEFLAGS names: the last --jobserver-auth (or
 * --jobserver-fds), as make reads it, before any `--` (variable
 * definitions follow it). null: it names none; a string: why it is malformed.
 */
export function parseMakeflags(makeflags: string): Jobserver | null | string {
  let auth: string | null = null;
  for (const word of makeflags.split(/\s+/)) {
    if (word === "--") break;
    const m = /^--jobserver-(?:auth|fds)=(.*)$/.exec(word);
    if (m) auth = m[1]!;
  }
  if (auth === null) return null;
  const fds = /^(\d+),(\d+)$/.exec(auth);
  if (fds) return { kind: "fds", read: Number(fds[1]), write: Number(fds[2]), auth };
  if (auth.startsWith("fifo:") && auth.length > "fifo:".length && auth[5] === "/") return { kind: "fifo", path: auth.slice(5), auth };
  return `--jobserver-auth=${auth} is neither R,W (two descriptors) nor fifo:PATH (an absolute path)`;
}

/** Why the jobserver cannot be passed, or null when it can. */
function unusable(js: Jobserver): string | null {
  if (js.kind === "fds") {
    for (const fd of [js.read, js.write]) {
      if (fd < 3 || !isOpenFd(fd)) return `descriptor ${fd} is not open`;
      const why = notInheritedReason(fd);
      if (why !== null) return `descriptor ${fd}: ${why}`;
    }
    return null;
  }
  try {
    return nodeFs().statSync(js.path).isFIFO() ? null : `${js.path} is not a fifo`;
  } catch {
    return `${js.path} does not exist`;
  }
}

/**
 * Adds the caller's jobserver (MAKEFLAGS `makeflags`) to `options`: its
 * descriptors, or its fifo bound and writable; and MAKEFLAGS. Warns and
 * leaves `options` as they are when it cannot; does nothing when MAKEFLAGS
 * names no jobserver (make ran without -j).
 */
export function applyJobserver(options: SandboxOptions, makeflags: string | undefined, warn: (message: string) => void): void {
  if (makeflags === undefined) return;
  const js = parseMakeflags(makeflags);
  if (js === null) return;
  const why = typeof js === "string" ? `malformed MAKEFLAGS: ${js}` : unusable(js);
  if (why !== null || typeof js === "string") {
    warn(`--jobserver: ${why}; the command runs without the caller's jobserver`);
    return;
  }
  if (js.kind === "fds") {
    options.passFds = [...new Set([...(options.passFds ?? []), js.read, js.write])];
  } else {
    options.extraMounts = [...(options.extraMounts ?? []), [js.path, js.path, "bind", ""]];
    const writable = options.filesystemWritablePaths ?? "all";
    if (writable !== "all") options.filesystemWritablePaths = [...(writable === "none" ? [] : writable), js.path];
  }
  if (options.env && options.env.MAKEFLAGS === undefined) options.env = { ...options.env, MAKEFLAGS: makeflags };
}
