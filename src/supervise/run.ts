// Runs one configured sandbox: spawn, output, timeout, wait, cleanup.
// Whatever happens after the spawn, cleanup runs.
import { SandboxError } from "../base/errors.ts";
import { resolvePlanInput } from "../config/resolve.ts";
import type { SandboxConfig } from "../config/types.ts";
import { CLONE_NEWNS, CLONE_NEWPID } from "../base/kernel-constants.ts";
import { strerror } from "../native/libc.ts";
import { runAllHostSteps, spawnSteps, spawnStepsConcurrently, type SpawnedSandbox, type StepFailure } from "../native/spawn.ts";
import type { PlanInput } from "../config/plan-input.ts";
import { type SandboxPlan, withinRoot } from "../plan/sandbox-plan.ts";
import { describeStep, type Step } from "../plan/steps.ts";
import { anyActive, trackStart } from "./active.ts";
import { createCgroup, killedForMemory, type SandboxCgroup } from "./cgroups.ts";
import { killMarked, mountNamespaceOf, type SandboxMarks } from "./leftovers.ts";
import { type Host, realHost } from "./host.ts";
import type { DanglingSymlink } from "./root-probe.ts";
import { isWithin, shownPath } from "../base/paths.ts";
import { guardMountPoints, type MountPointGuard, STATE_DIR } from "./mount-points.ts";
import { type Deadline, startDeadline } from "./deadline.ts";
import { sleepUntil } from "./idle.ts";
import { decodeStatus, type ExitInfo, waitForExit } from "./reaper.ts";
import { prepareStdio } from "./stdio.ts";

export interface SandboxUsage {
  wallMs: number;
  /** CPU time of the command and its descendants. */
  userMs: number;
  sysMs: number;
  /**
   * Peak resident memory of the command's largest process (the command or
   * one it waited for), from wait4 as `time -v` reports it; null when below
   * what the kernel credits the command with at its start (see commandPeakKb).
   */
  maxRssKb: number | null;
  /** Peak memory of the whole sandbox, page cache included, from its cgroup when one measured it. */
  cgroupPeakKb: number | null;
}

export interface SandboxResult {
  /** The command's exit status; 128+N when killed by signal N; 124 when it timed out. */
  exitCode: number;
  /** The signal that killed the command, or null. */
  signal: number | null;
  /** Captured bytes, or null when the stream was not captured. */
  stdout: Uint8Array | null;
  stderr: Uint8Array | null;
  timedOut: boolean;
  /** The kernel killed the command for exceeding its memory limit. */
  oomKilled: boolean;
  usage: SandboxUsage;
}

export type Planner = (input: PlanInput) => SandboxPlan;

/** How a backend's sandboxes are planned. */
export interface PlanningBackend {
  plan: Planner;
}

/** Hooks of one run. */
export interface RunHooks {
  /** Called with the sandbox's pid once its command has started. */
  onStart?: (pid: number) => void;
  /** Called once the sandbox process has been reaped. */
  onExit?: () => void;
  /** Sleep in the kernel while the command runs without captured output (idle.ts). */
  sleepWhileWaiting?: boolean;
}

/**
 * What a run reaches beyond this process's memory: the host (cgroups, the
 * journal, kill), the spawn and the wait. Tests give fakes, to check the
 * cleanup of each path without root (test/unit/run-cleanup.test.ts).
 */
export interface RunDeps {
  host: Host;
  stateDir: string;
  /** Spawns the sandbox process; through a spawner thread when `concurrent`. */
  spawn(child: Step[], cloneFlags: number, concurrent: boolean): SpawnedSandbox | Promise<SpawnedSandbox>;
  waitForExit(pid: number): Promise<ExitInfo>;
  /** Runs steps in a short-lived host process (removing mount points). */
  runHostSteps(steps: Step[]): void;
}

export const realRunDeps: RunDeps = {
  host: realHost,
  stateDir: STATE_DIR,
  spawn: (child, cloneFlags, concurrent) => (concurrent ? spawnStepsConcurrently(child, cloneFlags) : spawnSteps(child, cloneFlags)),
  waitForExit,
  runHostSteps: (steps) => void runAllHostSteps(steps),
};

const ENOENT = 2;
const EEXIST = 17;
const ENOTDIR = 20;
const ENOSYS = 38;
const SIGTERM = 15;
const SIGKILL = 9;
const EXIT_TIMED_OUT = 124;

/** The error for a failed step, worded for the person who ran sandboxlib. */
export function stepError(step: Step | undefined, failure: StepFailure, clash: DanglingSymlink | null = null): SandboxError {
  const reason = strerror(failure.errno);
  if (step?.op === "exec") {
    if (failure.errno === ENOENT || failure.errno === ENOTDIR) return new SandboxError("not-found", `command not found: ${step.file}`);
    return new SandboxError("not-executable", `cannot execute ${step.file}: ${reason}`);
  }
  const what = step ? describeStep(step) : "set up the sandbox";
  if (step?.op === "mkdirs" && failure.errno === EEXIST && clash) {
    // mkdir refuses a dangling symlink with EEXIST ("File exists"), which says nothing of it.
    const which = clash.path === step.path ? "it" : shownPath(clash.path);
    const message = `cannot ${what}: ${which} is a symlink (to ${clash.target}) whose target does not exist inside the root`;
    return Object.assign(new SandboxError("setup", message, what), { cause: { step, errno: failure.errno } });
  }
  let hint = failure.errno === ENOSYS ? " (this kernel lacks a system call sandboxlib needs: openat2 needs Linux 5.6, mount_setattr 5.12)" : "";
  if (step?.op === "mount" && step.purpose?.startsWith("bind writable path") && failure.errno === ENOENT) {
    hint = " (a writable path must exist in the root; --writable-create creates it)";
  }
  // The step and errno, for whoever tells a refusing environment from a bad setting (src/executors/environment.ts).
  return Object.assign(new SandboxError("setup", `cannot ${what}: ${reason}${hint}`, what), { cause: { step: step ?? null, errno: failure.errno } });
}

/**
 * Why a mkdirs step failed with EEXIST, when the root shows it: a component
 * of its path is a symlink whose destination does not exist in the root
 * (looked at as the step resolves it, RESOLVE_IN_ROOT). Only where no mount
 * made earlier in the sandbox covers the path: there the host's view of
 * the root is not the sandbox's.
 */
export function danglingSymlinkOf(plan: SandboxPlan, index: number, host: Host): DanglingSymlink | null {
  const step = plan.child[index];
  if (step?.op !== "mkdirs") return null;
  const covered = plan.child
    .slice(0, index)
    .some((s) => s.op === "mount" && s.inRoot && !(s.sourceInRoot && s.source === s.target) && isWithin(step.path, s.target));
  if (covered) return null;
  let fd: number;
  try {
    fd = host.openDirectory(plan.root);
  } catch {
    return null;
  }
  try {
    return host.probeRoot(fd).danglingSymlink(step.path);
  } catch {
    return null;
  } finally {
    host.close(fd);
  }
}

/** Narrows the journal to the mount points the run created, as soon as they are known. */
function journalCreations(plan: SandboxPlan, guard: MountPointGuard | null, childOuts: number[]): void {
  guard?.settle(plan.cleanup(childOuts).remove);
}
/** Removes created mount points when no other sandbox uses the root. */
function undo(plan: SandboxPlan, guard: MountPointGuard | null, deps: RunDeps): void {
  // Best effort: a mount point someone filled since is not empty and stays.
  guard?.finish((removals) => deps.runHostSteps(withinRoot(plan.root, removals)));
}

/**
 * Where signals for the sandbox go: its init when it is PID 1 (it forwards
 * them, and SIGKILL to it ends the whole PID namespace); else the command
 * itself, never its init (which must live on to sweep): its process group
 * when it leads a session of its own, so that what it started hears them too.
 */
function signalTarget(plan: SandboxPlan, sandbox: SpawnedSandbox, config: SandboxConfig): number {
  const command = sandbox.commandPid;
  if (plan.cloneFlags & CLONE_NEWPID || command <= 0) return sandbox.pid;
  return config.newSession ? -sandbox.sessionPid : command;
}

/** How sandboxlib finds the processes of a chroot sandbox whose init was killed (see leftovers.ts). */
function marksOf(plan: SandboxPlan, sandbox: SpawnedSandbox, config: SandboxConfig, host: Host): SandboxMarks | null {
  if (plan.cloneFlags & CLONE_NEWPID || sandbox.commandPid <= 0) return null;
  return {
    session: config.newSession ? sandbox.sessionPid : null,
    // Read now, while the init surely lives (it waits for the command).
    mountNamespace: plan.cloneFlags & CLONE_NEWNS ? mountNamespaceOf(sandbox.pid, host) : null,
  };
}

export async function runPlanned(config: SandboxConfig, backend: PlanningBackend, hooks: RunHooks = {}, deps: RunDeps = realRunDeps): Promise<SandboxResult> {
  const started = performance.now();
  const { host } = deps;
  const kill = (pid: number, signal: number) => host.kill(pid, signal);
  // Output beyond what a result can hold ends the command (set once it runs).
  let stopForOverflow = () => {};
  const stdio = prepareStdio(config, () => stopForOverflow());
  let cgroup: SandboxCgroup | null = null;
  let plan: SandboxPlan;
  try {
    cgroup = createCgroup(config.limits, config.measureMemory, host);
    plan = backend.plan(resolvePlanInput(config, stdio.childFds, cgroup?.procsFiles ?? []));
  } catch (e) {
    stdio.closeAll();
    await cgroup?.remove();
    throw e;
  }
  let guard: MountPointGuard | null = null;
  try {
    guard = guardMountPoints(plan.root, plan.createsMountPoints, host, deps.stateDir);
    // Before anything is created: a run killed during its set-up leaves
    // nothing the next one cannot find.
    guard?.intend(plan);
  } catch (e) {
    stdio.closeAll();
    undo(plan, guard, deps);
    await cgroup?.remove();
    throw e;
  }
  let sandbox: SpawnedSandbox;
  // Alone, this thread has nothing to do while the sandbox is set up: it
  // spawns it itself, the quickest way. Beside other sandboxes (a batch,
  // concurrent library calls) a spawner thread sets it up, so that this
  // thread goes on with the others and set-ups run side by side.
  const concurrent = anyActive();
  const starting = trackStart();
  try {
    const spawned = deps.spawn(plan.child, plan.cloneFlags, concurrent);
    sandbox = spawned instanceof Promise ? await spawned : spawned;
  } catch (e) {
    starting.abandoned();
    stdio.closeAll();
    undo(plan, guard, deps);
    await cgroup?.remove();
    const errno = (e as { errno?: number }).errno ?? 0;
    throw Object.assign(new SandboxError("setup", `cannot create the sandbox process: ${strerror(errno)}`, "clone"), { cause: { step: null, errno } });
  }
  const target = signalTarget(plan, sandbox, config);
  const marks = marksOf(plan, sandbox, config, host);
  // First thing once the command has exec'd: its limits that had to wait
  // for that (see cgroups.ts); the shorter the wait, the less it can use unlimited.
  let overLimit = false;
  let limitError: unknown = null;
  if (!sandbox.failure && cgroup) {
    try {
      overLimit = cgroup.limitAfterExec() === "over";
    } catch (e) {
      limitError = e;
    }
    if (overLimit || limitError) kill(target, SIGKILL);
  }
  const untrack = starting.started(target);
  stopForOverflow = () => kill(target, SIGKILL);
  stdio.commandStarted();
  journalCreations(plan, guard, sandbox.outs());
  if (!sandbox.failure) plan.spawned?.(sandbox.outs());
  let timedOut = false;
  let killed = false;
  // Set once the sandbox process has been reaped: its stack and the memory
  // the kernel writes at its exit go back only then.
  let exited: Promise<unknown> | null = null;
  let reaped = false;
  const timers: Deadline[] = [];
  try {
    if (limitError) throw limitError;
    if (!sandbox.failure) {
      hooks.onStart?.(sandbox.pid);
      if (config.timeout !== null) {
        timers.push(
          startDeadline(config.timeout, () => {
            timedOut = true;
            kill(target, SIGTERM);
            timers.push(
              startDeadline(config.killAfter, () => {
                killed = true;
                kill(target, SIGKILL);
              }),
            );
          }),
        );
      }
    }
    // Once the command is gone, so is everything it left running: the init
    // sees to that before it exits. A chroot sandbox's init can be killed
    // from inside (it shares the host's PID namespace): then this process
    // sweeps. Captured output then reaches EOF.
    const exit = deps.waitForExit(sandbox.pid).then((info) => {
      reaped = true;
      if (marks && decodeStatus(info.status).signal !== null) {
        killMarked(marks, host);
        cgroup?.killAll();
      }
      stdio.commandExited();
      hooks.onExit?.();
      return info;
    });
    exited = exit;
    if (hooks.sleepWhileWaiting && !stdio.capturing && !sandbox.failure) void sleepUntil(exit);
    const [stdout, stderr, info] = await Promise.all([stdio.stdout, stdio.stderr, exit]);
    if (sandbox.failure) {
      const { index, errno } = sandbox.failure;
      throw stepError(plan.child[index], sandbox.failure, errno === EEXIST ? danglingSymlinkOf(plan, index, host) : null);
    }
    const overflowed = stdio.overflowed();
    if (overflowed) throw new SandboxError("output", `the command's ${overflowed.stream} outgrew what a result can hold (${overflowed.limit} bytes): the command was killed; send it to a file instead`);
    // With an init, the command's own status is what the init recorded; the
    // init's status only matters when it was killed from outside.
    const status = sandbox.commandStatus() ?? info.status;
    // Without the init's record, the init's own figures: its peak memory
    // would be sandboxlib's (it shared sandboxlib's memory until its exec).
    const usage = sandbox.commandUsage() ?? { ...info, maxRssKb: null };
    const { code, signal } = decodeStatus(status);
    let exitCode = signal === null ? (code ?? 0) : 128 + signal;
    if (timedOut && !killed) exitCode = EXIT_TIMED_OUT;
    return {
      exitCode,
      signal,
      stdout,
      stderr,
      timedOut,
      oomKilled: killedForMemory({ overLimit, oomKills: cgroup?.oomKills() ?? 0, signal, killedByTimeout: killed }),
      usage: {
        wallMs: performance.now() - started,
        userMs: usage.userUs / 1000,
        sysMs: usage.sysUs / 1000,
        maxRssKb: usage.maxRssKb,
        cgroupPeakKb: cgroup?.peakMemoryKb() ?? null,
      },
    };
  } finally {
    for (const t of timers) t.cancel();
    untrack();
    // Only an internal error gets here with the sandbox still running.
    if (!reaped) {
      kill(target, SIGKILL);
      await (exited ?? deps.waitForExit(sandbox.pid));
    }
    sandbox.release();
    await cgroup?.remove();
    undo(plan, guard, deps);
  }
}
