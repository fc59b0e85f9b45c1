// The configuration of one sandboxed command, in the Python library's
// vocabulary (TypeScript spelling). Everything the library and the command
// line accept ends up as a SandboxConfig.
import type { Rlimit } from "../hardening/rlimits.ts";

/** Capture the stream and return it as bytes. */
export const CAPTURE: unique symbol = Symbol.for("sandboxlib.CAPTURE");
/** For stderr: send it where stdout goes. */
export const STDOUT: unique symbol = Symbol.for("sandboxlib.STDOUT");

/** An open file: a descriptor, or anything with one (fs.promises FileHandle). */
export type FileLike = number | { fd: number };

/** Where a stream goes: captured, discarded (null), or into an open file. */
export type OutputTarget = typeof CAPTURE | null | FileLike;
export type ErrorTarget = OutputTarget | typeof STDOUT;

/** Where stdin comes from: the caller's (undefined), nothing (null) or a file. */
export type InputSource = null | FileLike | undefined;

/** `(source, target, type, options)` as in fstab; options may be omitted. */
export type ExtraMountEntry =
  | readonly [string | null, string | null, string | null]
  | readonly [string | null, string | null, string | null, string | null];

/** An extra mount after validation: always four fields. */
export interface ExtraMount {
  source: string | null;
  target: string;
  type: string | null;
  options: string;
}

export type WritablePaths = "all" | "none" | readonly string[];
/** The values of `network` and `mounts`: leave the namespace as it is, or give the sandbox its own. */
export const NAMESPACE_SETTINGS = ["undefined", "isolated"] as const;
export type NetworkSetting = (typeof NAMESPACE_SETTINGS)[number];
export type MountsSetting = (typeof NAMESPACE_SETTINGS)[number];

/** Limits enforced through a cgroup created for the sandbox. */
export interface CgroupLimits {
  /** Bytes of memory (no swap). */
  memory: number | null;
  /** Processes and threads of the command. */
  pids: number | null;
  /** CPUs' worth of time (1.5 = one and a half). */
  cpus: number | null;
}

export interface SandboxConfig {
  command: readonly string[];
  cwd: string | null;
  /** The whole environment of the command; null inherits sandboxlib's. */
  env: Readonly<Record<string, string>> | null;
  filesystemRoot: string;
  filesystemWritablePaths: WritablePaths;
  /** Writable paths created (with their missing parents) where the root lacks them, and kept after the run. */
  createWritablePaths: readonly string[];
  mounts: MountsSetting;
  extraMounts: readonly ExtraMount[];
  network: NetworkSetting;
  hostname: string | null;
  stdin: InputSource;
  stdout: OutputTarget;
  stderr: ErrorTarget;
  /** Seconds until SIGTERM, then SIGKILL after `killAfter` more; null: none. */
  timeout: number | null;
  killAfter: number;
  /** Descriptors of the caller passed on to the command under the same number. */
  passFds: readonly number[];
  /** setsid(): the command cannot reach the caller's terminal (TIOCSTI). */
  newSession: boolean;
  /** Capabilities the command keeps (names, e.g. "CHOWN"). */
  capabilities: readonly string[];
  uid: number | null;
  gid: number | null;
  seccomp: boolean;
  rlimits: readonly Rlimit[];
  limits: CgroupLimits;
  /** Measure the command's peak memory (through a cgroup) even without a limit. */
  measureMemory: boolean;
}

export const DEFAULT_KILL_AFTER = 5;

export const DEFAULT_CONFIG: Omit<SandboxConfig, "command" | "capabilities"> = {
  cwd: null,
  env: null,
  filesystemRoot: "/",
  filesystemWritablePaths: "all",
  createWritablePaths: [],
  mounts: "undefined",
  extraMounts: [],
  network: "undefined",
  hostname: null,
  stdin: undefined,
  stdout: CAPTURE,
  stderr: CAPTURE,
  timeout: null,
  killAfter: DEFAULT_KILL_AFTER,
  passFds: [],
  newSession: true,
  uid: null,
  gid: null,
  seccomp: true,
  rlimits: [],
  limits: { memory: null, pids: null, cpus: null },
  measureMemory: false,
};
