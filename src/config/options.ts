// Library options (the Python keyword arguments, TypeScript spelling) turned
// into a checked SandboxConfig. Pure: no file system access.
import { configError } from "./errors.ts";
import { validateExtraMounts } from "./extra-mounts.ts";
import {
  CAPTURE,
  DEFAULT_CONFIG,
  type ErrorTarget,
  type ExtraMountEntry,
  type InputSource,
  type MountsSetting,
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
  mounts?: MountsSetting;
  extraMounts?: readonly ExtraMountEntry[] | null;
  network?: NetworkSetting;
  hostname?: string | null;
  stdin?: InputSource;
  stdout?: OutputTarget;
  stderr?: ErrorTarget;
}

const NETWORK: readonly NetworkSetting[] = ["undefined", "isolated"];
const MOUNTS: readonly MountsSetting[] = ["undefined", "isolated"];

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

export function toSandboxConfig(command: string | readonly string[], options: SandboxOptions = {}): SandboxConfig {
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
    filesystemWritablePaths: checkWritable(options.filesystemWritablePaths ?? d.filesystemWritablePaths),
    mounts: oneOf("mounts", options.mounts ?? d.mounts, MOUNTS),
    extraMounts: validateExtraMounts(options.extraMounts),
    network: oneOf("network", options.network ?? d.network, NETWORK),
    hostname,
    stdin: options.stdin,
    stdout,
    stderr,
  };
}
