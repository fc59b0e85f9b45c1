// The setting shared by the signal soak and the fuzz: busybox roots, a bind
// source, a root tarball, private temporary and state directories, a marker
// every process of the runs carries, the checks every run must pass
// (documented exit status, at most one line from sandboxlib) and the
// inventory of what the runs left behind.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN } from "./cli.ts";
import { killMarked, processesMarked, removeCgroups, removeTestTree, sandboxlibCgroups, settles } from "./host-cleanup.ts";
import { describeLeftovers, isClean, type Leftovers, leftovers, startWatch, type Watch } from "./inventory.ts";
import { makeRootfs } from "./rootfs.ts";

/** A small fast PRNG (mulberry32): the same seed gives the same runs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The generator of run `index` of a seeded session: replayable on its own. */
export const runPrng = (seed: number, index: number) => prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);

export type Rand = () => number;
export const pick = <T>(r: Rand, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
export const chance = (r: Rand, p: number) => r() < p;
export const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

export interface Rig {
  scratch: string;
  /** Two roots: `shared` is used by concurrent runs, `other` by some. */
  roots: { shared: string; other: string };
  /** A host directory to bind (inside the scratch directory). */
  bindSource: string;
  /** The shared root as a tarball (an image root: unpacked into the temporary directory). */
  tarball: string;
  /** Where output files, configs and --keep-root directories go (its .sandboxlib-* entries are watched too). */
  files: string;
  marker: string;
  env: Record<string, string>;
  watch: Watch;
  /** Starts sandboxlib with the rig's environment; its pid is remembered as a cgroup owner. */
  spawn(args: string[], options?: { stdin?: "pipe" | "ignore"; cwd?: string }): Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  /**
   * Counts what the runs left, once the host has settled. With `sweep`, a
   * clean-up run on each root comes first: the next run is what removes the
   * cgroups and journalled mount points of a sandboxlib that was SIGKILLed.
   */
  inventory(options: { sweep: boolean }): Promise<Leftovers>;
  /** Puts the host back whatever was left, and removes the rig. */
  dispose(): void;
}

export function makeRig(name: string): Rig {
  const scratch = mkdtempSync(join(tmpdir(), `sandboxlib-${name}-`));
  chmodSync(scratch, 0o755);
  const shared = makeRootfs();
  const other = makeRootfs();
  const bindSource = join(scratch, "bind-source");
  mkdirSync(bindSource);
  writeFileSync(join(bindSource, "file"), "bound\n");
  const tarball = join(scratch, "root.tar");
  Bun.spawnSync(["tar", "-C", shared, "-cf", tarball, "."]);
  const temp = join(scratch, "tmp");
  const state = join(scratch, "state");
  const files = join(scratch, "files");
  mkdirSync(temp);
  mkdirSync(files);
  const marker = `sbx${name}${process.pid}m${Date.now().toString(36)}`;
  const env = { SANDBOXLIB_TMPDIR: temp, SANDBOXLIB_STATE_DIR: state, SANDBOXLIB_SOAK_MARK: marker };
  const watch = startWatch({ roots: [shared, other], mountDirs: [shared, other, scratch], marker, tempParents: [temp, files] });
  const rig: Rig = {
    scratch,
    roots: { shared, other },
    bindSource,
    tarball,
    files,
    marker,
    env,
    watch,
    spawn(args, options = {}) {
      const proc = Bun.spawn([BIN, ...args], {
        stdin: options.stdin ?? "ignore",
        stdout: "pipe",
        stderr: "pipe",
        cwd: options.cwd ?? scratch,
        env: { ...process.env, ...env } as Record<string, string>,
      });
      watch.ownerPids.add(proc.pid);
      return proc as Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
    },
    async inventory({ sweep }) {
      // Processes of a SIGKILLed sandboxlib die a moment after it (PDEATHSIG):
      // give them that moment, or the sweep below finds their cgroups busy.
      await settles(() => processesMarked(marker).length === 0, 5000);
      for (const root of sweep ? [shared, other] : []) {
        const sweep = rig.spawn(["run", "--backend", "linux", "--root", root, "--memory", "256M", "--pids", "1000", "--cpus", "2", "true"]);
        await sweep.exited;
      }
      let found = leftovers(watch);
      await settles(() => isClean((found = leftovers(watch))), 3000);
      return found;
    },
    dispose() {
      killMarked(marker);
      removeCgroups(sandboxlibCgroups().filter((d) => [...watch.ownerPids].some((pid) => d.includes(`/${pid}-`))));
      for (const dir of [shared, other, scratch]) removeTestTree(dir);
    },
  };
  return rig;
}

/** Exit statuses of the README's table, plus the command's own `expected` ones. */
export function isDocumentedStatus(code: number, expected: readonly number[]): boolean {
  return expected.includes(code) || [124, 125, 126, 127, 141].includes(code) || (code > 128 && code <= 128 + 64);
}

/** An internal error, a Node warning, a stack trace or a Bun crash banner. */
export const CRASH = /internal error|TimeoutOverflowWarning|\(node:\d+\)|panic|Bun has crashed|oh no|Segmentation fault|^\s+at \S/m;

/** sandboxlib's stderr without the documented warning lines (--degrade) that may come first. */
export const withoutWarnings = (stderr: string) => stderr.replace(/^(sandboxlib: warning: [^\n]*\n)+/, "");

/** Whether stderr is exactly one line of sandboxlib's (after any warnings). */
export const isOneLine = (stderr: string) => /^sandboxlib: [^\n]*\n$/.test(withoutWarnings(stderr));

/** What is wrong with sandboxlib's stderr, if anything: at most one line, its own, no internal error or crash. */
export function stderrProblem(stderr: string, exitCode: number | null): string | null {
  if (CRASH.test(stderr)) return "an internal error or crash on stderr";
  if (withoutWarnings(stderr) === "") return exitCode === 125 ? "exit 125 without a message" : null;
  if (!isOneLine(stderr)) return "stderr is not one line starting 'sandboxlib: '";
  return null;
}

export { describeLeftovers, isClean, type Leftovers };

/** How long a seeded session (the soak, the fuzz) goes on, and what it tells. */
export interface SessionOptions {
  seed: number;
  /** At most this many runs... */
  count: number;
  /** ...started within this many seconds. */
  seconds: number;
  /** Runs at a time. */
  concurrency: number;
  /** Only this run (to replay one). */
  only?: number;
  log?: (line: string) => void;
}

/** What a session found: how its runs ended, its problems, what was left behind. */
export interface SessionReport {
  seed: number;
  outcomes: Record<string, number>;
  problems: string[];
  leftovers: Leftovers;
  clean: boolean;
}
