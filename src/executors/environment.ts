// What the environment sandboxlib runs in lets a sandbox do. Inside a
// container the environment is not ours: a default `docker build` step has
// no CAP_SYS_ADMIN and a seccomp profile refusing namespaces and mounts,
// Podman drops MKNOD, NET_RAW and AUDIT_WRITE, `--cap-add SYS_ADMIN` still
// lacks CAP_NET_ADMIN. Settings the environment cannot honour are refused
// with one line naming the setting, the cause and the remedy, or dropped
// with a warning each under --degrade; the command never gets less than it
// asked for without being told.
import { degradeForCapabilities, type Warn } from "../config/capabilities.ts";
import { configError, SandboxError } from "../base/errors.ts";
import type { SandboxOptions } from "../config/options.ts";
import { CAPTURE, type ExtraMountEntry } from "../config/types.ts";
import { canUse, type CallerCapabilities, callerCapabilities, heldCapabilities } from "../hardening/caller-capabilities.ts";
import { capabilityName, resolveCapabilities } from "../hardening/capabilities.ts";
import { writeText } from "../native/libc.ts";
import type { Step } from "../plan/steps.ts";
import type { BackendName, Executor } from "./executor.ts";

/** What gives a container the rights the linux backend needs. */
export const CONTAINER_REMEDY = "docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined, or BuildKit's RUN --security=insecure";

const EPERM = 1;
const EACCES = 13;
const ENOSYS = 38;

// What was learned by trying, for the rest of the process. A run on a host
// where everything works learns nothing and reads nothing: the caller's
// capabilities are read only where a refusal must be explained or a
// setting checked against them (--cap-add, --degrade, a chroot run's mounts).

/** Why the linux backend cannot run here, once a run was refused; null while nothing says so. */
let linuxRefused: string | null = null;
/** The loopback interface of a new network namespace cannot be brought up (no CAP_NET_ADMIN). */
let loopbackRefused = false;

const NO_SYS_ADMIN = "this process lacks CAP_SYS_ADMIN, which namespaces and mounts need, as with a container's default capability set";

/** Why namespaces and mounts cannot be used here, as far as known without trying (null: try). Reads the caller's capabilities. */
export function knownLinuxRefusal(caps: CallerCapabilities = callerCapabilities()): string | null {
  if (linuxRefused) return linuxRefused;
  if (!canUse("SYS_ADMIN", caps)) return NO_SYS_ADMIN;
  return null;
}

/** Why the linux backend cannot run here, as learned by a refused run (reads nothing). */
export function learnedLinuxRefusal(): string | null {
  return linuxRefused;
}

/** Whether the loopback interface of an isolated network is known not to come up here. */
export function loopbackKnownRefused(): boolean {
  return loopbackRefused;
}

/** Remembers, for the rest of the process, that the linux backend was refused. */
export function noteLinuxRefused(reason: string): void {
  linuxRefused = reason;
}

/** Forgets what was learned (tests). */
export function resetEnvironmentKnowledge(): void {
  linuxRefused = null;
  loopbackRefused = false;
}

interface FailureCause {
  step: Step | null;
  errno: number;
}

/**
 * Whether a failed run of the linux backend says the environment refuses
 * it (rather than a setting being wrong): creating the namespaces refused,
 * or making "/" private or binding the root refused (EPERM, EACCES: a
 * seccomp profile or a security module), or openat2 missing (ENOSYS). The
 * reason, or null.
 */
export function linuxRefusalOf(e: unknown, sysAdmin: () => boolean = () => canUse("SYS_ADMIN")): string | null {
  if (!(e instanceof SandboxError) || e.kind !== "setup") return null;
  const cause = e.cause as FailureCause | undefined;
  if (!cause || typeof cause.errno !== "number") return null;
  const { step, errno } = cause;
  const refused = errno === EPERM || errno === EACCES;
  if (e.step === "clone" && refused && !sysAdmin()) return NO_SYS_ADMIN;
  if (e.step === "clone" && refused) return `the kernel refused to create namespaces, ${e.message.replace(/^cannot create the sandbox process: /, "clone: ")}, as a container's seccomp profile or security module does`;
  if (!step) return null;
  const rootMount = step.op === "private-root" || (step.op === "mount" && !step.inRoot && step.source !== null && step.source === step.target);
  if (rootMount && refused && !sysAdmin()) return NO_SYS_ADMIN;
  if (rootMount && refused) return `the kernel refused mounts, ${e.message.replace(/^cannot /, "")}, as a container's seccomp profile or security module does`;
  if ((step.op === "open-root" || step.op === "setattr") && errno === ENOSYS) return e.message.replace(/^cannot /, "");
  return null;
}

/** Options marked by degradeConfigForCapabilities: their environment mismatches are dropped with this warning. */
const DEGRADE = Symbol("sandboxlib.degrade");
/** Options of a fallback run of the chroot backend: why the linux backend could not run, and what to do once the run goes ahead. */
const FALLBACK = Symbol("sandboxlib.fallback");

interface Fallback {
  reason: string;
  /** Called when the settings are fitted and the run goes ahead (not when one is refused). */
  proceeding(): void;
}

type Marked = SandboxOptions & { [DEGRADE]?: (message: string) => void; [FALLBACK]?: Fallback };

export function warnFunction(warn: Warn): (message: string) => void {
  if (typeof warn === "function") return warn;
  return warn ? (m) => writeText(2, `sandboxlib: warning: ${m}\n`) : () => {};
}

/** A copy of `options` with the marks it has, and `mark` set to `value`. */
function marked<T extends SandboxOptions>(options: T, mark: typeof DEGRADE | typeof FALLBACK, value: unknown): T {
  const out = { ...options };
  for (const m of [DEGRADE, FALLBACK] as const) {
    const v = m === mark ? value : (options as Marked)[m];
    if (v !== undefined) Object.defineProperty(out, m, { value: v, enumerable: false });
  }
  return out;
}

/** A copy of `options` whose environment mismatches are dropped (with `warn`) when it runs. */
export function markDegraded<T extends SandboxOptions>(options: T, warn: Warn): T {
  return marked(options, DEGRADE, warnFunction(warn));
}

/** A copy of `options` for the chroot backend run because the linux backend cannot run. */
export function markFallback<T extends SandboxOptions>(options: T, fallback: Fallback): T {
  return marked(options, FALLBACK, fallback);
}

const degradeOf = (options: SandboxOptions) => (options as Marked)[DEGRADE] ?? null;
const fallbackOf = (options: SandboxOptions) => (options as Marked)[FALLBACK] ?? null;

/** What the environment allows, as the fitting below needs it. */
export interface EnvironmentFacts {
  caps: CallerCapabilities;
  /** Why mounts cannot be made here, or null. */
  mountsRefused: string | null;
}

export function environmentFacts(): EnvironmentFacts {
  const caps = callerCapabilities();
  return { caps, mountsRefused: knownLinuxRefusal(caps) };
}

function describeMount([source, target, type]: ExtraMountEntry): string {
  if (type === "bind") return `the bind mount of ${source} on ${target}`;
  return `the ${type ?? "mount"} mount on ${target}`;
}

/**
 * `options` fitted to the environment for `backend`: capabilities the caller
 * lacks left out (a --cap-add of one refused), mounts refused where mounts
 * cannot be made, an isolated network without CAP_NET_ADMIN refused (its
 * loopback cannot come up), and, in a chroot fallback, the linux backend's
 * settings refused with the reason. Under --degrade each is dropped with a
 * warning instead. Pure: the facts come in.
 */
export function fitToEnvironment<T extends SandboxOptions>(options: T, backend: BackendName, facts: EnvironmentFacts): T {
  const degrade = degradeOf(options);
  const fallback = fallbackOf(options)?.reason ?? null;
  let out: T = { ...options };
  const refuse = (setting: string, cause: string, remedy: string) => {
    throw configError(`${setting} cannot be honoured here, because ${cause}; ${remedy}`);
  };
  const more = `--degrade to run without it, or give the container the rights: ${CONTAINER_REMEDY}`;
  if (fallback && backend === "chroot") {
    // What only namespaces give, asked of a chroot fallback.
    const cause = `the linux backend cannot run: ${fallback}`;
    const caps = { network: out.network ?? "undefined", mounts: out.mounts ?? "undefined", writable: out.filesystemWritablePaths ?? "all" };
    if (!degrade) {
      if (caps.network === "isolated") refuse("--network isolated", cause, more);
      if (caps.mounts === "isolated") refuse("--mounts isolated", cause, more);
      if (caps.writable !== "all") refuse(typeof caps.writable === "string" ? "--read-only" : `--writable ${caps.writable[0]}`, cause, more);
      if (out.hostname != null) refuse(`--hostname ${out.hostname}`, cause, more);
    } else {
      out = degradeForCapabilities(out, { network: ["undefined"], mounts: ["undefined"], filesystem_writable_paths: ["all"], features: [] }, "chroot", degrade);
      if (out.hostname != null) {
        degrade(`Unable to set hostname=${out.hostname} in a chroot sandbox, keeping the host's`);
        out.hostname = null;
      }
    }
  }
  const mounts = out.extraMounts ?? [];
  if (mounts.length && facts.mountsRefused) {
    if (!degrade) refuse(describeMount(mounts[0]!), `no mounts can be made: ${facts.mountsRefused}`, more);
    for (const m of mounts) degrade!(`Unable to make ${describeMount(m)}: no mounts can be made here, running without it`);
    out.extraMounts = [];
  }
  if (backend === "linux" && out.network === "isolated" && !canUse("NET_ADMIN", facts.caps)) {
    if (!degrade) throw noLoopback();
    degrade("--network isolated: no loopback interface (this process lacks CAP_NET_ADMIN): the command has no network interface up");
  }
  // The command's capabilities: what it would get, less what this process
  // does not hold, as further drops; the adds keep only what is held, so a
  // backend's check of what was asked for by name still sees the user's.
  const resolved = resolveCapabilities(out.capAdd ?? [], out.capDrop ?? []);
  const held = heldCapabilities(resolved, out.capAdd ?? [], facts.caps, degrade);
  if (held.length !== resolved.length) {
    out.capDrop = [...(out.capDrop ?? []), ...resolved.filter((c) => !held.includes(c))];
    out.capAdd = (out.capAdd ?? []).filter((c) => held.includes(capabilityName(c)));
  }
  return out;
}

const noLoopback = () =>
  configError(
    "--network isolated cannot be honoured here, because its loopback interface cannot be brought up without CAP_NET_ADMIN; --degrade to run with no network interface up at all, or give the container CAP_NET_ADMIN (docker run --cap-add NET_ADMIN)",
  );

/**
 * Whether `options` need fitting before they run on `backend`: on the usual
 * path (no --cap-add, no --degrade, the linux backend) nothing is read and
 * the kernel's refusals are translated afterwards instead.
 */
function needsFitting(options: SandboxOptions, backend: BackendName): boolean {
  return degradeOf(options) !== null || fallbackOf(options) !== null || (options.capAdd?.length ?? 0) > 0 || (backend === "chroot" && (options.extraMounts?.length ?? 0) > 0);
}

/** What a failed linux run says about the environment, as the error to report (or null: report it as it is). */
function translatedFailure(e: unknown): SandboxError | null {
  const refusal = linuxRefusalOf(e);
  if (refusal) {
    noteLinuxRefused(refusal);
    return linuxCannotRun(refusal);
  }
  const cause = e instanceof SandboxError ? (e.cause as FailureCause | undefined) : undefined;
  if (cause?.step?.op === "loopback-up" && cause.errno === EPERM) {
    loopbackRefused = true;
    return noLoopback();
  }
  return null;
}

/**
 * `base` with the environment's limits applied: refused settings, the
 * caller's capabilities, a translated refusal of the linux backend.
 */
export function fitted(base: Executor): Executor {
  const executor: Executor = {
    name: base.name,
    CAPABILITIES: base.CAPABILITIES,
    unavailableReason: () => base.unavailableReason(),
    degradeConfigForCapabilities: (options, warn = true) => markDegraded(base.degradeConfigForCapabilities(options, warn), warn),
    async runSandbox(command, options = {}) {
      const reason = base.unavailableReason();
      // Not root: that is what to say, whatever else is missing.
      if (reason) return base.runSandbox(command, options);
      if (base.name === "linux" && linuxRefused) throw linuxCannotRun(linuxRefused);
      let fittedOptions = options;
      if (needsFitting(options, base.name)) {
        const facts = environmentFacts();
        fittedOptions = fitToEnvironment(options, base.name, facts);
        // Fitted under --degrade: the plan leaves the loopback down (linux.ts).
        if (base.name === "linux" && fittedOptions.network === "isolated" && !canUse("NET_ADMIN", facts.caps)) loopbackRefused = true;
      }
      if (base.name === "linux" && fittedOptions.network === "isolated" && loopbackRefused && degradeOf(options) === null) throw noLoopback();
      fallbackOf(options)?.proceeding();
      try {
        return await base.runSandbox(command, fittedOptions);
      } catch (e) {
        throw (base.name === "linux" && translatedFailure(e)) || e;
      }
    },
    runSandboxWithRedirection: (command, options = {}) => redirected(executor, command, options),
    // The options fitted as a run fits them, without its refusals (nothing runs).
    planSandbox: (command, options = {}) =>
      base.planSandbox(command, base.unavailableReason() === null && needsFitting(options, base.name) ? fitToEnvironment(options, base.name, environmentFacts()) : options),
  };
  return executor;
}

/** runSandboxWithRedirection through `executor`'s runSandbox: output goes where the caller says, nothing is captured unless asked. */
export async function redirected(executor: Executor, command: string | readonly string[], options: SandboxOptions): Promise<number> {
  const result = await executor.runSandbox(command, {
    ...options,
    stdout: options.stdout === CAPTURE || options.stdout === undefined ? null : options.stdout,
    stderr: options.stderr === CAPTURE || options.stderr === undefined ? null : options.stderr,
  });
  return result.exitCode;
}

/** The linux backend, asked for by name, cannot run here. */
export class LinuxRefused extends SandboxError {
  constructor(readonly reason: string) {
    super("setup", `the linux backend cannot run here: ${reason}; use the chroot backend (--backend chroot, or no --backend at all), or give the container the rights: ${CONTAINER_REMEDY}`, "clone");
  }
}

const linuxCannotRun = (reason: string) => new LinuxRefused(reason);
