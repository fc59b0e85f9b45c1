// The two ways a plan runs: in a cloned sandbox process (spawnSteps) or in
// this thread (runHostSteps: removing created mount points, re-exec).
import { ptr } from "bun:ffi";
import type { Step } from "../base/steps.ts";
import { encodeSteps, get64, put64 } from "./encode.ts";
import { helper, initProgramFd } from "./helper.ts";
import { OFFSETS } from "./offsets.ts";
import { spawnPolicy } from "./spawn-policy.ts";
import { sandboxLives, spawnDone } from "./spawner-wakeups.ts";

const F = OFFSETS.spawn;


/** A step that failed: its index in the plan and the errno it got. */
export interface StepFailure {
  index: number;
  errno: number;
}

export interface SpawnedSandbox {
  pid: number;
  /** The command's pid, as the sandbox init sees it (in its PID namespace); 0 when none was started. */
  commandPid: number;
  /** The pid of the process that ran the command's steps (in the same namespace): the session and process group the command starts in are its, when it made a session. */
  sessionPid: number;
  /** Set when setup or exec failed inside the child. */
  failure: StepFailure | null;
  /** The command's wait status as recorded by the sandbox init, or null. */
  commandStatus(): number | null;
  /** Resource usage of the command as recorded by the sandbox init. */
  commandUsage(): { userUs: number; sysUs: number; maxRssKb: number } | null;
  /** The `out` value of each step, as the child left it (shared memory). */
  outs(): number[];
  /** Frees the child's stack; call only after the child has been reaped. */
  release(): void;
}

function prepareSpawn(steps: readonly Step[], cloneFlags: number) {
  const encoded = encodeSteps(steps);
  const policy = spawnPolicy(steps, cloneFlags);
  const spawn = new Uint8Array(OFFSETS.spawnSize);
  const words = new Uint32Array(spawn.buffer);
  put64(words, F.clone_flags, cloneFlags);
  put64(words, F.steps, ptr(encoded.buffer));
  put64(words, F.nsteps, encoded.count);
  if (policy.keepFds.length) put64(words, F.keep_fds, ptr(policy.keepFds));
  put64(words, F.nkeep_fds, policy.keepFds.length);
  // Plans that start a command beside an init have sandboxlib-init take over.
  put64(words, F.init_fd, steps.some((s) => s.op === "fork-command") ? initProgramFd() : -1);
  words[F.setup_fail_status >> 2] = policy.setupFailStatus;
  words[F.exec_fail_status >> 2] = policy.execFailStatus;
  words[F.undumpable >> 2] = policy.undumpable ? 1 : 0;
  return { encoded, spawn, words, keepFds: policy.keepFds };
}

/** What sbx_spawn left in `spawn`, as a SpawnedSandbox. Throws when clone itself failed. */
function spawned(steps: readonly Step[], { encoded, spawn, words, keepFds }: ReturnType<typeof prepareSpawn>, pid: number): SpawnedSandbox {
  const native = helper();
  const field = (off: number) => get64(words, off);
  if (pid < 0) {
    native.sbx_release(spawn);
    throw Object.assign(new Error("clone failed"), { errno: -pid });
  }
  const failIndex = field(F.fail_step);
  // The init writes into `spawn` while the sandbox runs: both buffers stay
  // referenced by this object until release().
  let keep: unknown[] | null = [spawn, encoded.keepAlive, keepFds];
  return {
    pid,
    commandPid: field(F.exec_pid),
    sessionPid: field(F.cmd_pid),
    failure: failIndex >= 0 ? { index: failIndex, errno: field(F.fail_errno) } : null,
    commandStatus: () => {
      if (keep) native.sbx_collect(spawn);
      const status = field(F.cmd_status);
      return status >= 0 ? status : null;
    },
    commandUsage: () => {
      if (keep) native.sbx_collect(spawn);
      return field(F.cmd_status) >= 0 ? { userUs: field(F.ru_utime_us), sysUs: field(F.ru_stime_us), maxRssKb: field(F.ru_maxrss_kb) } : null;
    },
    outs: () => steps.map((_, i) => encoded.out(i)),
    release: () => {
      if (keep) native.sbx_release(spawn);
      keep = null;
    },
  };
}

/**
 * Clones a process that runs `steps` and returns once its command has been
 * exec'd or its setup has failed, blocking this thread meanwhile (the
 * quickest way when there is nothing else to do). Throws only when clone
 * itself fails.
 */
export function spawnSteps(steps: readonly Step[], cloneFlags: number): SpawnedSandbox {
  const prepared = prepareSpawn(steps, cloneFlags);
  return spawned(steps, prepared, Number(helper().sbx_spawn(prepared.spawn)));
}

/** Spawns in flight on spawner threads, by bounding set (the helper starts a thread of that set's pool for each, up to a limit). */
const inFlight = new Map<bigint, number>();

/** What the sandbox init needs beside the command's capabilities: it keeps KILL, and drops the rest of its bounding set with SETPCAP. */
const INIT_CAPABILITIES = (1n << 5n) | (1n << 8n);

/**
 * The bounding set a spawner thread may narrow itself to before cloning
 * these steps' sandbox (see sbx_spawners): the command's capabilities and
 * its init's; every capability (-1) when the plan drops none.
 */
function spawnerBoundingSet(steps: readonly Step[]): bigint {
  for (const step of steps) if (step.op === "capabilities") return step.keep | INIT_CAPABILITIES;
  return -1n;
}

/**
 * spawnSteps on a spawner thread of the helper: this thread goes on (other
 * sandboxes are planned and reported meanwhile) and several sandboxes are
 * set up at once.
 */
export async function spawnStepsConcurrently(steps: readonly Step[], cloneFlags: number): Promise<SpawnedSandbox> {
  const native = helper();
  const boundingSet = spawnerBoundingSet(steps);
  const flying = inFlight.get(boundingSet) ?? 0;
  // No thread could start (a thread limit, say): this thread spawns.
  if (Number(native.sbx_spawners(flying + 1, boundingSet)) < 0) return spawnSteps(steps, cloneFlags);
  const prepared = prepareSpawn(steps, cloneFlags);
  put64(prepared.words, F.bounding_set, boundingSet);
  // The stack comes from this thread: the spare stacks are this thread's.
  const stacked = Number(native.sbx_take_stack(prepared.spawn));
  const queued = stacked < 0 ? stacked : Number(native.sbx_spawn_async(prepared.spawn));
  if (queued < 0) {
    native.sbx_release(prepared.spawn);
    throw Object.assign(new Error(stacked < 0 ? "cannot map a stack" : "cannot queue a spawn"), { errno: -queued });
  }
  inFlight.set(boundingSet, flying + 1);
  const released = sandboxLives();
  let sandbox: SpawnedSandbox;
  try {
    try {
      await spawnDone(prepared.words);
    } catch {
      // The spawn goes on regardless, and its sandbox must not be lost: wait
      // for it here instead.
      native.sbx_await_spawn(prepared.spawn);
    } finally {
      inFlight.set(boundingSet, inFlight.get(boundingSet)! - 1);
    }
    sandbox = spawned(steps, prepared, get64(prepared.words, F.async_result));
  } catch (e) {
    released();
    throw e;
  }
  const release = sandbox.release;
  return {
    ...sandbox,
    release() {
      release();
      released();
    },
  };
}

export interface HostRun {
  /** The failing step, or null when all ran. */
  failure: StepFailure | null;
  /** The `out` value of each step (created components, opened descriptors). */
  outs: number[];
}

/** Runs steps in this thread, stopping at the first failure. */
export function runHostSteps(steps: readonly Step[]): HostRun {
  if (steps.length === 0) return { failure: null, outs: [] };
  const encoded = encodeSteps(steps);
  const err = new Int32Array(1);
  const failed = Number(helper().sbx_run_steps(encoded.buffer, encoded.count, ptr(err)));
  return {
    failure: failed >= 0 ? { index: failed, errno: err[0]! } : null,
    outs: steps.map((_, i) => encoded.out(i)),
  };
}

/** Runs every step in this thread even past failures (cleanup). */
export function runAllHostSteps(steps: readonly Step[]): StepFailure | null {
  if (steps.length === 0) return null;
  const encoded = encodeSteps(steps);
  const first = new BigInt64Array(1);
  const err = new Int32Array(1);
  const failed = Number(helper().sbx_run_all_steps(encoded.buffer, encoded.count, ptr(first), ptr(err)));
  return failed > 0 ? { index: Number(first[0]), errno: err[0]! } : null;
}

/** Where sbx_wait leaves a status and a usage (one thread calls it). */
const waitStatus = new Int32Array(1);
const waitUsage = new BigInt64Array(3);

/** Non-blocking wait4: the wait status and usage, or null while running. */
export function tryWait(pid: number): { status: number; userUs: number; sysUs: number; maxRssKb: number } | null {
  const r = Number(helper().sbx_wait(pid, ptr(waitStatus), ptr(waitUsage)));
  if (r <= 0) return null;
  return { status: waitStatus[0]!, userUs: Number(waitUsage[0]), sysUs: Number(waitUsage[1]), maxRssKb: Number(waitUsage[2]) };
}
