// Runs one configured sandbox: host setup, spawn, output, timeout, wait,
// cleanup. Whatever happens after the first host step, cleanup runs.
import { SandboxError } from "../config/errors.ts";
import { resolvePlanInput } from "../config/resolve.ts";
import type { SandboxConfig } from "../config/types.ts";
import { kill, strerror, writeText } from "../native/libc.ts";
import { runAllHostSteps, runHostSteps, spawnSteps, spawnStepsConcurrently, type SpawnedSandbox, type StepFailure } from "../native/spawn.ts";
import type { PlanInput } from "../plan/input.ts";
import { type SandboxPlan, withinRoot } from "../plan/sandbox-plan.ts";
import { describeStep, type Step } from "../plan/steps.ts";
import { anyActive, trackStart } from "./active.ts";
import { createCgroup, type SandboxCgroup } from "./cgroups.ts";
import { guardMountPoints, type MountPointGuard } from "./mount-points.ts";
import { decodeStatus, waitForExit } from "./reaper.ts";
import { prepareStdio } from "./stdio.ts";

export interface SandboxUsage {
  wallMs: number;
  /** CPU time of the command and its descendants. */
  userMs: number;
  sysMs: number;
  /** Peak memory of the sandbox (from its cgroup), when measured. */
  maxRssKb: number | null;
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

/** How a backend's sandboxes are planned and whether they have an init. */
export interface PlanningBackend {
  plan: Planner;
  /** The sandbox process stays as PID 1 (and counts as one of the cgroup's processes). */
  hasInit: boolean;
}

/** Hooks of one run. */
export interface RunHooks {
  /** Called with the sandbox's pid once its command has started. */
  onStart?: (pid: number) => void;
  /** Called once the sandbox process has been reaped. */
  onExit?: () => void;
}

const ENOENT = 2;
const ENOTDIR = 20;
const ENOSYS = 38;
const SIGTERM = 15;
const SIGKILL = 9;
const EXIT_TIMED_OUT = 124;

/** The error for a failed step, worded for the person who ran sandboxlib. */
export function stepError(step: Step | undefined, failure: StepFailure): SandboxError {
  const reason = strerror(failure.errno);
  if (step?.op === "exec") {
    if (failure.errno === ENOENT || failure.errno === ENOTDIR) return new SandboxError("not-found", `command not found: ${step.file}`);
    return new SandboxError("not-executable", `cannot execute ${step.file}: ${reason}`);
  }
  const what = step ? describeStep(step) : "set up the sandbox";
  const hint = failure.errno === ENOSYS ? " (this kernel lacks a system call sandboxlib needs: openat2 needs Linux 5.6, mount_setattr 5.12)" : "";
  // The step and errno, for whoever tells a refusing environment from a bad setting (src/executors/environment.ts).
  return Object.assign(new SandboxError("setup", `cannot ${what}: ${reason}${hint}`, what), { cause: { step: step ?? null, errno: failure.errno } });
}

function runCleanupSteps(steps: Step[], handles: number[]): void {
  const failure = runAllHostSteps(steps, handles);
  if (failure) {
    const step = steps[failure.index];
    writeText(2, `sandboxlib: warning: cleanup: cannot ${step ? describeStep(step) : "clean up"}: ${strerror(failure.errno)}\n`);
  }
}

/** Journals the mount points the run created, as soon as they are known. */
function journalCreations(plan: SandboxPlan, guard: MountPointGuard | null, hostOuts: number[], hostUpTo: number, childOuts: number[]): void {
  guard?.record(plan.cleanup(hostOuts, hostUpTo, childOuts).remove);
}

/** Unmounts what the host steps mounted, then removes created mount points when no other sandbox uses the root. */
function undo(plan: SandboxPlan, guard: MountPointGuard | null, hostOuts: number[], hostUpTo: number): void {
  runCleanupSteps(plan.cleanup(hostOuts, hostUpTo, []).unmount, hostOuts);
  // Best effort: a mount point someone filled since is not empty and stays.
  guard?.finish((removals) => runAllHostSteps(withinRoot(plan.root, removals), hostOuts));
}

/**
 * Where signals for the sandbox go: its init (PID namespace), or else the
 * command's process group (it leads a session of its own) so that what it
 * started hears them too.
 */
function signalTarget(plan: SandboxPlan, pid: number, config: SandboxConfig): number {
  return plan.hasInit || !config.newSession ? pid : -pid;
}

export async function runPlanned(config: SandboxConfig, backend: PlanningBackend, hooks: RunHooks = {}): Promise<SandboxResult> {
  const started = performance.now();
  // Output beyond what a result can hold ends the command (set once it runs).
  let stopForOverflow = () => {};
  const stdio = prepareStdio(config, () => stopForOverflow());
  let cgroup: SandboxCgroup | null = null;
  let plan: SandboxPlan;
  try {
    cgroup = createCgroup(config.limits, config.measureMemory);
    plan = backend.plan(resolvePlanInput(config, stdio.childFds, cgroup?.procsFiles ?? []));
  } catch (e) {
    stdio.closeAll();
    await cgroup?.remove();
    throw e;
  }
  const guard = guardMountPoints(plan.root, plan.createsMountPoints);
  const host = runHostSteps(plan.host);
  if (host.failure) {
    stdio.closeAll();
    journalCreations(plan, guard, host.outs, host.failure.index, []);
    undo(plan, guard, host.outs, host.failure.index);
    await cgroup?.remove();
    throw stepError(plan.host[host.failure.index], host.failure);
  }
  let sandbox: SpawnedSandbox;
  // Alone, this thread has nothing to do while the sandbox is set up: it
  // spawns it itself, the quickest way. Beside other sandboxes (a batch,
  // concurrent library calls) a spawner thread sets it up, so that this
  // thread goes on with the others and set-ups run side by side.
  const concurrent = anyActive();
  const starting = trackStart();
  try {
    sandbox = concurrent ? await spawnStepsConcurrently(plan.child, plan.cloneFlags) : spawnSteps(plan.child, plan.cloneFlags);
  } catch (e) {
    starting.abandoned();
    stdio.closeAll();
    journalCreations(plan, guard, host.outs, plan.host.length, []);
    undo(plan, guard, host.outs, plan.host.length);
    await cgroup?.remove();
    const errno = (e as { errno?: number }).errno ?? 0;
    throw Object.assign(new SandboxError("setup", `cannot create the sandbox process: ${strerror(errno)}`, "clone"), { cause: { step: null, errno } });
  }
  const target = signalTarget(plan, sandbox.pid, config);
  const untrack = starting.started(target);
  stopForOverflow = () => kill(target, SIGKILL);
  stdio.commandStarted();
  journalCreations(plan, guard, host.outs, plan.host.length, sandbox.outs());
  if (!sandbox.failure) plan.spawned?.(sandbox.outs());
  let timedOut = false;
  let killed = false;
  // Set once the sandbox process has been reaped: its stack and the memory
  // the kernel writes at its exit go back only then.
  let exited: Promise<unknown> | null = null;
  let reaped = false;
  const timers: ReturnType<typeof setTimeout>[] = [];
  try {
    if (!sandbox.failure) {
      hooks.onStart?.(sandbox.pid);
      if (config.timeout !== null) {
        timers.push(
          setTimeout(() => {
            timedOut = true;
            kill(target, SIGTERM);
            timers.push(
              setTimeout(() => {
                killed = true;
                kill(target, SIGKILL);
              }, config.killAfter * 1000),
            );
          }, config.timeout * 1000),
        );
      }
    }
    // Once the command is gone, so is everything it left running: the init
    // sees to that in a PID namespace; otherwise its session's process group
    // and its cgroup are killed here. Captured output then reaches EOF.
    const exit = waitForExit(sandbox.pid).then((info) => {
      reaped = true;
      if (!plan.hasInit) {
        if (config.newSession) kill(-sandbox.pid, SIGKILL);
        cgroup?.killAll();
      }
      stdio.commandExited();
      hooks.onExit?.();
      return info;
    });
    exited = exit;
    const [stdout, stderr, info] = await Promise.all([stdio.stdout, stdio.stderr, exit]);
    if (sandbox.failure) throw stepError(plan.child[sandbox.failure.index], sandbox.failure);
    const overflowed = stdio.overflowed();
    if (overflowed) throw new SandboxError("output", `the command's ${overflowed.stream} outgrew what a result can hold (${overflowed.limit} bytes): the command was killed; send it to a file instead`);
    // With an init, the command's own status is what the init recorded; the
    // init's status only matters when it was killed from outside.
    const status = sandbox.commandStatus() ?? info.status;
    const usage = sandbox.commandUsage() ?? info;
    const { code, signal } = decodeStatus(status);
    let exitCode = signal === null ? (code ?? 0) : 128 + signal;
    if (timedOut && !killed) exitCode = EXIT_TIMED_OUT;
    return {
      exitCode,
      signal,
      stdout,
      stderr,
      timedOut,
      oomKilled: cgroup?.oomKilled() ?? false,
      usage: {
        wallMs: performance.now() - started,
        userMs: usage.userUs / 1000,
        sysMs: usage.sysUs / 1000,
        maxRssKb: cgroup?.peakMemoryKb() ?? null,
      },
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    untrack();
    // Only an internal error gets here with the sandbox still running.
    if (!reaped) {
      kill(target, SIGKILL);
      await (exited ?? waitForExit(sandbox.pid));
    }
    sandbox.release();
    // Processes go before their mounts do.
    await cgroup?.remove();
    undo(plan, guard, host.outs, plan.host.length);
  }
}
