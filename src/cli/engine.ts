// The JavaScript engine settings of the executable. It is built to start with
// the JIT ten times slower to compile (scripts/executable.ts): start-up code
// runs once, and compiling it costs more than it saves. The usual policy
// comes back where the hot kind of code begins: when `run`'s sandbox starts
// (the capture loop), when `batch` starts (its per-sandbox code), and before
// an image is unpacked (the decompressors).
//
// `sandboxlib batch`, besides, runs the same
// few hundred lines of glue around system calls for each sandbox; the
// optimizing compiler of JavaScriptCore (DFG, and FTL above it) spends more
// CPU compiling that glue, on threads of its own that compete with the
// sandboxes for the CPUs, than its code then saves (measured in bench/: 500
// sandboxed /bin/true about 12% sooner without it, 2000 about 3%). The
// baseline compiler stays. JavaScriptCore reads its options from the
// environment once, at start-up: so the executable starts itself again, once,
// with the option set, and takes it back out of the environment its commands
// inherit.
//
// The batch also starts without Bun's idle garbage-collection timer. Bun
// (1.4.5, its GarbageCollectionController) asks for a collection every
// second until 30 ticks in a row found the heap not growing, then every 30 s,
// with full ones at 10 s, 2 min and 10 min of quiet: while a command runs,
// each tick wakes the JavaScript thread, a collector thread and mimalloc's
// scavenger: 3 to 17 wake-ups a second for the first half-minute of every
// quiet spell. Bun reads BUN_GC_TIMER_DISABLE once, before any JavaScript
// runs, and nothing turns the timer off later (no API, no build option; an
// --env-file among the executable's arguments does not reach it); the batch
// starts again anyway, so here it costs nothing. JavaScriptCore's own
// collections, paced by what is allocated, stay; the batch holds some 4 to
// 7 MB more (idle after 1000 sandboxes, 46 to 49 MB instead of 42; 5000
// peak at 58 instead of 54). `run` keeps the timer (starting again would
// cost a whole Bun start-up, about 5 ms of a 15 ms cold run) but, from half
// a second into its command, sleeps in the kernel instead of in Bun's loop
// (src/supervise/idle.ts), where the timer does not reach it. `runner`
// keeps it too: a server idle for hours between actions, whose idle full
// collections give memory back.
import { usageError } from "../base/errors.ts";
import { keepOpenOnExec } from "../native/libc.ts";
import { runHostSteps } from "../native/spawn.ts";
import { inheritedFds } from "./inherited-fds.ts";

/** Set in the environment of the started-again process to the settings it added, which it removes, with this. */
const TUNED = "SANDBOXLIB_ENGINE_TUNED";

/** The engine settings of `batch`, and of `runner` (see above). */
export const BATCH_SETTINGS: Readonly<Record<string, string>> = { BUN_JSC_useDFGJIT: "0", BUN_GC_TIMER_DISABLE: "1" };
export const RUNNER_SETTINGS: Readonly<Record<string, string>> = { BUN_JSC_useDFGJIT: "0" };

/** Inside the executable (not `bun src/main.ts`, whose process is the caller's bun). */
const compiled = () => Bun.main.startsWith("/$bunfs/");

/**
 * Replaces this process with the executable started again with `settings`
 * in its environment and the same arguments, inherited descriptors and
 * environment. A setting the caller gave a value of its own keeps it.
 * Returns only when it is not done: already done (the added settings then
 * leave the environment), nothing to add, not the executable, or the exec
 * failed (the command runs as it is).
 */
export function restartTuned(args: readonly string[], settings: Readonly<Record<string, string>>): void {
  const tuned = process.env[TUNED];
  if (tuned !== undefined) {
    const added = tuned.split(",");
    for (const name of [TUNED, ...Object.keys(settings).filter((n) => added.includes(n))]) delete process.env[name];
    return;
  }
  if (!compiled()) return;
  const added = Object.keys(settings).filter((name) => process.env[name] === undefined);
  if (added.length === 0) return;
  const env = Object.entries({ ...process.env, ...Object.fromEntries(added.map((n) => [n, settings[n]])), [TUNED]: added.join(",") }).map(([name, value]) => `${name}=${value}`);
  // Bun made the caller's descriptors close-on-exec at start-up: the
  // started-again process must inherit them too, for batch lines' pass-fd.
  for (const fd of inheritedFds()) if (fd > 2) keepOpenOnExec(fd);
  runHostSteps([{ op: "exec", file: process.execPath, argv: [process.argv0, ...args], env, searchPath: null }]);
}

/**
 * Bun reads BUN_OPTIONS in main(), before any JavaScript runs, and applies
 * its flags to a compiled executable too (--cwd, --smol, --config,
 * --env-file, profilers...); nothing at build time turns that off. The
 * executable is built with --disallow-code-generation-from-strings=strict,
 * under which Bun itself refuses a --preload, --import or --require from
 * BUN_OPTIONS (it exits 1 before any code runs). Whatever else it set cannot
 * be undone from here, so sandboxlib, a tool run as root, does not run with
 * it at all.
 */
export function refuseRuntimeOptions(): void {
  if (compiled() && (process.env.BUN_OPTIONS ?? "").trim() !== "") {
    throw usageError("BUN_OPTIONS is set: the sandboxlib executable does not run with Bun runtime options from the environment (unset BUN_OPTIONS)");
  }
}

/** The start-up is over (hot code follows): the JIT goes back to its usual policy. */
export function startUpDone(): void {
  if (compiled()) Bun.unsafe.setJITPolicy(1);
}
