// What the planners take: a configuration already validated, with host
// paths resolved and the stdio descriptors opened by the supervisor.
import type { NetworkSetting } from "./types.ts";
import type { Rlimit } from "../hardening/rlimits.ts";
import type { Arch } from "../hardening/seccomp.ts";

/** What the command process does to itself before exec. */
export interface CommandHardening {
  newSession: boolean;
  /** Caller descriptors kept open under their own number. */
  passFds: readonly number[];
  rlimits: readonly Rlimit[];
  /** Capability names the command keeps. */
  capabilities: readonly string[];
  uid: number | null;
  gid: number | null;
  seccomp: boolean;
  arch: Arch;
  /** A process limit (--pids, an nproc rlimit) counts the command's processes, its launcher's too until it is reaped. */
  processLimit: boolean;
}

export interface PlannedMount {
  /** Host path for binds; the filesystem's source name otherwise. */
  source: string | null;
  /** Canonical path in the root (see paths.ts). */
  target: string;
  /** null for binds; "dev" is sandboxlib's minimal /dev. */
  fstype: string | null;
  flags: number;
  data: string | null;
  bind: boolean;
  readOnly: boolean;
  /** A bind of a file: the mount point must be a file too. */
  sourceIsFile: boolean;
  /** `remount,ro`: the target itself made read-only (bound onto itself), no new filesystem. */
  remount?: true;
}

export interface PlanInput {
  /** Absolute, symlink-free host path of the root. */
  root: string;
  /**
   * A path that reaches a mount stacked on the root: the root itself, except
   * for "/", whose own path never crosses a mount stacked on it; there a
   * child directory's ".." does ("/etc/..").
   */
  rootReentry: string;
  argv: readonly string[];
  /** NAME=VALUE strings: the whole environment of the command. */
  env: readonly string[];
  /** Directories searched for a command without '/', or null to not search. */
  searchPath: string | null;
  /** Working directory inside the sandbox (absolute). */
  cwd: string;
  mounts: readonly PlannedMount[];
  /** "all", "none", or canonical in-root paths. */
  writable: "all" | "none" | readonly string[];
  /** Canonical in-root paths created where missing (kept after the run): --writable-create. */
  createWritable?: readonly string[];
  network: NetworkSetting;
  hostname: string | null;
  /** Descriptors of this process (all >= 3) that become the command's 0, 1, 2. */
  stdio: readonly [number, number, number];
  hardening: CommandHardening;
  /** cgroup.procs files the sandbox joins (writing "0") before the command starts. */
  cgroupProcs: readonly string[];
}
