// What the benchmark needs before it can measure anything: root, the peer
// tools (bwrap, a static busybox, GNU time) and a current dist/sandboxlib.
import { chmodSync, copyFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { compileExecutable } from "../scripts/executable.ts";
import { failureText, succeeded, timedSync } from "./proc.ts";

export const REPO = join(import.meta.dir, "..");
export const BIN = join(REPO, "dist/sandboxlib");

/** Debian package -> a file it provides; only missing ones are installed. */
const PACKAGES: readonly [string, string][] = [
  ["bubblewrap", "/usr/bin/bwrap"],
  ["busybox-static", "/usr/bin/busybox"],
  ["time", "/usr/bin/time"],
  ["gcc", "/usr/bin/gcc"],
  ["libc6-dev", "/usr/include/stdio.h"],
];

export function requireRoot(): void {
  // Namespaces, chroot and mounts on the host all need root; measuring
  // something else than what ships would be pointless.
  if (process.geteuid?.() !== 0) throw new Error("the benchmark needs root (namespaces, chroot, mounts): run it as root");
}

function mustSucceed(argv: string[], timeoutMs: number): void {
  const r = timedSync(argv, { timeoutMs, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (!succeeded(r)) throw new Error(failureText(argv, r));
}

/** Installs missing packages with apt-get (one `update`, one `install`). */
export function ensurePackages(log: (line: string) => void): void {
  const missing = PACKAGES.filter(([, file]) => !existsSync(file)).map(([pkg]) => pkg);
  if (missing.length === 0) return;
  log(`installing ${missing.join(" ")} with apt-get`);
  mustSucceed(["apt-get", "update", "-qq"], 300_000);
  mustSucceed(["apt-get", "install", "-y", "-qq", ...missing], 600_000);
  for (const [pkg, file] of PACKAGES) if (!existsSync(file)) throw new Error(`${pkg} was installed but ${file} is still missing`);
}

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/sandboxlib when it is missing. A present but older executable
 * is not rebuilt (the source may be half-way through an edit, and tests may
 * be running the file); the caller gets a note saying the figures are for
 * that older build. Returns the note, or null.
 */
export function ensureBuilt(log: (line: string) => void): string | null {
  if (existsSync(BIN)) {
    const stale = statSync(BIN).mtimeMs < newestSourceMtime(join(REPO, "src"));
    return stale ? "dist/sandboxlib is older than some file under src/: the figures are for that build (run bun build.ts first to measure the current source)" : null;
  }
  log("dist/sandboxlib is missing: building it (bun build.ts)");
  const r = Bun.spawnSync([process.execPath, "build.ts"], { cwd: REPO, stdin: "ignore", stdout: "ignore", stderr: "pipe", timeout: 300_000, killSignal: "SIGKILL" });
  if (r.exitCode !== 0 || r.exitedDueToTimeout) throw new Error(`bun build.ts failed: ${r.stderr.toString().trim()}`);
  return "dist/sandboxlib was missing: it was built with bun build.ts before measuring";
}

export interface References {
  /**
   * dist/sandboxlib copied now, when the empty Bun is built: on this VM the
   * same executable starts slower when its file was written minutes or
   * hours before than a fresh copy of it does (13.55 against 12.14 ms, 200
   * interleaved cold runs, a copy 9 minutes old), which would skew its
   * comparison with a reference built now.
   */
  sandboxlib: string;
  /** bench/empty.ts compiled as dist/sandboxlib is: Bun's start-up alone. */
  emptyBun: string;
  /** bench/floor.c: the same warm isolation in C, nothing else. */
  floor: string;
}

/** Builds the two reference programs into `dir`, beside a copy of dist/sandboxlib made at the same time. */
export async function buildReferences(dir: string): Promise<References> {
  const sandboxlib = join(dir, "sandboxlib");
  copyFileSync(BIN, sandboxlib);
  chmodSync(sandboxlib, 0o755);
  const emptyBun = join(dir, "empty-bun");
  await compileExecutable(join(import.meta.dir, "empty.ts"), emptyBun);
  const floor = join(dir, "floor");
  mustSucceed(["gcc", "-O2", "-Wall", "-o", floor, join(import.meta.dir, "floor.c")], 60_000);
  return { sandboxlib, emptyBun, floor };
}
