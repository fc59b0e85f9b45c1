// Library options (the Python keyword arguments, TypeScript spelling) turned
// into a checked SandboxConfig. Pure: no file system access.
import { configError, quoted } from "../base/errors.ts";
import { resolveCapabilities } from "../hardening/capabilities.ts";
import { makeRlimit, MIN_PROCESSES, type RlimitValue } from "../hardening/rlimits.ts";
import { validateExtraMounts } from "./extra-mounts.ts";
import {
  CAPTURE,
  DEFAULT_CONFIG,
  type ErrorTarget,
  type ExtraMountEntry,
  type InputSource,
  type MountsSetting,
  NAMESPACE_SETTINGS,
  type NetworkSetting,
  type OutputTarget,
  type SandboxConfig,
  STDOUT,
  type WritablePaths,
} from "./types.ts";

export interface SandboxOptions {
  cwd?: string | null;
  env?: Readonly<Record<string, string>> | null;
  filesystemRoot?: string;
  filesystemWritablePaths?: WritablePaths;
  /**
   * Writable paths to create where the root lacks them (a missing writable
   * path is otherwise an error, so that a typo is not silently made); each
   * is writable as if listed in filesystemWritablePaths, and stays after the run.
   */
  createWritablePaths?: readonly string[];
  mounts?: MountsSetting;
  extraMounts?: readonly ExtraMountEntry[] | null;
  network?: NetworkSetting;
  hostname?: string | null;
  stdin?: InputSource;
  stdout?: OutputTarget;
  stderr?: ErrorTarget;
  /** Seconds (fractions allowed) until SIGTERM; the result then says timedOut. */
  timeout?: number | null;
  /** Seconds after the timeout's SIGTERM until SIGKILL (default 5). */
  killAfter?: number;
  /** Descriptors (3 and above) the command inherits under the same number. */
  passFds?: readonly number[];
  /** false keeps the caller's session (interactive use); default true. */
  newSession?: boolean;
  /** Capabilities added to / dropped from Docker's default set ("ALL" drops all); drops apply first. */
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  uid?: number | null;
  /** Defaults to uid when uid is given. */
  gid?: number | null;
  /** false disables the default seccomp filter. */
  seccomp?: boolean;
  /** setrlimit: { nofile: [1024, 4096], core: 0, cpu: "unlimited" }. */
  rlimits?: Readonly<Record<string, RlimitValue | readonly [RlimitValue, RlimitValue]>>;
  /** cgroup limits: bytes of memory (at least MIN_MEMORY, 6 MiB), processes, CPUs. */
  memory?: number | null;
  pids?: number | null;
  cpus?: number | null;
  /** Measure the sandbox's peak memory through a cgroup (cgroupPeakKb) even without a limit, where one can be made. */
  measureMemory?: boolean;
  /** Called with the sandbox's pid once its command has started. */
  onStart?: (pid: number) => void;
  /** Called once the sandbox's processes are gone (reaped), before its result is put together. */
  onExit?: () => void;
  /**
   * For a process with nothing else to do (the command line's `run`): while
   * the command runs and no output is captured, the calling thread sleeps in
   * the kernel instead of in Bun's event loop, whose garbage-collector timer
   * wakes it every second (src/supervise/idle.ts).
   */
  sleepWhileWaiting?: boolean;
}


function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw configError(`invalid ${name}: ${JSON.stringify(value)} (expected ${allowed.join(" or ")})`);
}

function isFileLike(value: unknown): boolean {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0;
  return typeof value === "object" && value !== null && typeof (value as { fd?: unknown }).fd === "number";
}

function checkTarget(name: string, value: unknown, allowStdout: boolean): void {
  if (value === CAPTURE || value === null || isFileLike(value)) return;
  if (allowStdout && value === STDOUT) return;
  throw configError(`invalid ${name}: expected CAPTURE, null, a file descriptor or a file${allowStdout ? ", or STDOUT" : ""}`);
}

function checkWritable(value: unknown): WritablePaths {
  if (value === "all" || value === "none") return value;
  if (Array.isArray(value) && value.every((p) => typeof p === "string" && p !== "")) return value as string[];
  throw configError(`invalid filesystem_writable_paths: ${JSON.stringify(value)} (expected "all", "none" or a list of paths)`);
}

/**
 * The writable paths, and those of them to create: a path to create is
 * writable too ("none" with paths to create becomes those paths; "all"
 * stays all, the paths still created).
 */
function writablePaths(options: SandboxOptions): Pick<SandboxConfig, "filesystemWritablePaths" | "createWritablePaths"> {
  const writable = checkWritable(options.filesystemWritablePaths ?? DEFAULT_CONFIG.filesystemWritablePaths);
  const create = options.createWritablePaths ?? [];
  if (!Array.isArray(create) || !create.every((p) => typeof p === "string" && p !== "")) {
    throw configError(`invalid createWritablePaths: ${JSON.stringify(create)} (expected a list of paths)`);
  }
  if (create.length === 0 || writable === "all") return { filesystemWritablePaths: writable, createWritablePaths: create };
  const listed = writable === "none" ? [] : writable;
  return { filesystemWritablePaths: [...listed, ...create.filter((p) => !listed.includes(p))], createWritablePaths: create };
}

function checkEnv(env: unknown): Record<string, string> | null {
  if (env === null || env === undefined) return null;
  if (typeof env !== "object" || Array.isArray(env)) throw configError(`invalid env: expected an object of strings`);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name === "" || name.includes("=") || name.includes("\0")) throw configError(`invalid environment variable name: ${JSON.stringify(name)}`);
    if (typeof value !== "string" || value.includes("\0")) throw configError(`invalid value of environment variable ${name}`);
    out[name] = value;
  }
  return out;
}

function positive(name: string, value: unknown, integer: boolean): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw configError(`invalid ${name}: ${JSON.stringify(value)} (expected a positive ${integer ? "integer" : "number"})`);
  }
  return value;
}

/**
 * The smallest memory limit a sandbox reliably starts with, measured with a
 * static busybox `true` on both backends: some 400 KiB with the binary in
 * the page cache, 3 MiB when it must first be read (the page cache it fills
 * counts against the limit). Docker's minimum, twice the cold figure.
 */
export const MIN_MEMORY = 6 * 1024 * 1024;

function processLimit(value: number | null): number | null {
  if (value !== null && value < MIN_PROCESSES) {
    throw configError(`invalid value for --pids: ${value} (below the minimum of ${MIN_PROCESSES}: the command's launcher holds one slot while it starts the command)`);
  }
  return value;
}

/** A memory limit in bytes, refused below MIN_MEMORY: a sandbox that cannot start is killed for memory at once. */
function memoryLimit(value: unknown): number | null {
  const bytes = positive("memory", value, true);
  if (bytes !== null && bytes < MIN_MEMORY) {
    throw configError(`invalid value for --memory: ${bytes} bytes (below the minimum of ${MIN_MEMORY} bytes, 6M, that a sandbox needs to start)`);
  }
  return bytes;
}

function id(name: string, value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xfffffffe) {
    throw configError(`invalid ${name}: ${JSON.stringify(value)} (expected a user or group number)`);
  }
  return value;
}

/**
 * Descriptors a command can be passed: the sandbox process closes what it
 * does not keep at once only while it keeps at most 60 (sandbox.c,
 * close_unplanned), the passed ones and up to three stdio sources among
 * them; past that, other sandboxes' pipes would stay open in it during its
 * whole set-up.
 */
export const MAX_PASSED_FDS = 56;

function passFds(value: unknown): number[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((fd) => Number.isInteger(fd) && fd >= 3)) {
    throw configError(`invalid passFds: ${JSON.stringify(value)} (expected descriptors numbered 3 or above)`);
  }
  const fds = [...new Set(value as number[])];
  // What the native close-from step keeps beside the spawn's own (steps.c).
  if (fds.length > MAX_PASSED_FDS) throw configError(`too many passFds: ${fds.length} (at most ${MAX_PASSED_FDS})`);
  return fds;
}

/** A string command is a one-element argv, as in Python. */
export function normalizeCommand(command: string | readonly string[]): string[] {
  const argv = typeof command === "string" ? [command] : [...command];
  if (argv.length === 0 || argv[0] === "") throw configError("empty command");
  for (const arg of argv) {
    if (typeof arg !== "string") throw configError(`invalid command argument: ${JSON.stringify(arg)}`);
    if (arg.includes("\0")) throw configError(`command argument contains a NUL byte: ${JSON.stringify(arg)}`);
  }
  return argv;
}

/**
 * The kernel takes a path up to its first NUL byte: "/src\0/x" would
 * silently be /src. Refuses a NUL in the strings that become paths or mount
 * data (command and env are checked where they are normalized).
 */
function refuseNul(options: SandboxOptions): void {
  const check = (name: string, value: unknown) => {
    if (typeof value === "string" && value.includes("\0")) throw configError(`invalid ${name}: contains a NUL byte: ${quoted(value)}`);
  };
  check("cwd", options.cwd);
  check("filesystem_root", options.filesystemRoot);
  check("hostname", options.hostname);
  if (Array.isArray(options.filesystemWritablePaths)) options.filesystemWritablePaths.forEach((p, i) => check(`filesystem_writable_paths[${i}]`, p));
  options.createWritablePaths?.forEach((p, i) => check(`createWritablePaths[${i}]`, p));
  options.extraMounts?.forEach((entry, i) => {
    if (Array.isArray(entry)) entry.forEach((field, j) => check(`extra_mounts[${i}][${j}]`, field));
  });
}

export function toSandboxConfig(command: string | readonly string[], options: SandboxOptions = {}): SandboxConfig {
  refuseNul(options);
  const d = DEFAULT_CONFIG;
  const stdout = options.stdout === undefined ? d.stdout : options.stdout;
  const stderr = options.stderr === undefined ? d.stderr : options.stderr;
  checkTarget("stdout", stdout, false);
  checkTarget("stderr", stderr, true);
  if (options.stdin !== undefined && options.stdin !== null && !isFileLike(options.stdin)) {
    throw configError("invalid stdin: expected null, a file descriptor or a file");
  }
  const root = options.filesystemRoot ?? d.filesystemRoot;
  if (typeof root !== "string" || root === "") throw configError(`invalid filesystem_root: ${JSON.stringify(root)}`);
  const cwd = options.cwd ?? null;
  if (cwd !== null && (typeof cwd !== "string" || cwd === "")) throw configError(`invalid cwd: ${JSON.stringify(cwd)}`);
  const hostname = options.hostname ?? null;
  if (hostname !== null && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(hostname)) {
    throw configError(`invalid hostname: ${JSON.stringify(hostname)}`);
  }
  return {
    command: normalizeCommand(command),
    cwd,
    env: checkEnv(options.env),
    filesystemRoot: root,
    ...writablePaths(options),
    mounts: oneOf("mounts", options.mounts ?? d.mounts, NAMESPACE_SETTINGS),
    extraMounts: validateExtraMounts(options.extraMounts),
    network: oneOf("network", options.network ?? d.network, NAMESPACE_SETTINGS),
    hostname,
    stdin: options.stdin,
    stdout,
    stderr,
    timeout: positive("timeout", options.timeout, false),
    killAfter: positive("killAfter", options.killAfter, false) ?? d.killAfter,
    passFds: passFds(options.passFds),
    newSession: options.newSession ?? d.newSession,
    capabilities: resolveCapabilities(options.capAdd ?? [], options.capDrop ?? []),
    uid: id("uid", options.uid),
    gid: id("gid", options.gid) ?? id("uid", options.uid),
    seccomp: options.seccomp ?? d.seccomp,
    rlimits: Object.entries(options.rlimits ?? {}).map(([name, v]) =>
      Array.isArray(v) ? makeRlimit(name, v[0], v[1]) : makeRlimit(name, v as RlimitValue),
    ),
    limits: {
      memory: memoryLimit(options.memory),
      pids: processLimit(positive("pids", options.pids, true)),
      cpus: positive("cpus", options.cpus, false),
    },
    measureMemory: options.measureMemory ?? false,
  };
}
