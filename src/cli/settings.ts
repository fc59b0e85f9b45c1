// The settings of one `run` (or one batch entry), as options set them. The
// command line and config files both go through applyOption, so an option
// means the same thing, with the same checks and messages, in either.
import { shownValue, usageError } from "../base/errors.ts";
import type { ExtraMountEntry, MountsSetting, NetworkSetting } from "../config/types.ts";
import { capabilityName } from "../hardening/capabilities.ts";
import { parseRlimit } from "../hardening/rlimits.ts";
import { parseBytes } from "../hardening/sizes.ts";
import { MAX_DEADLINE_SECONDS } from "../supervise/deadline.ts";

/** Where an output stream goes. */
export type OutputSetting = { kind: "inherit" } | { kind: "null" } | { kind: "capture" } | { kind: "file"; path: string } | { kind: "stdout" };

export interface RunSettings {
  backend: string | null;
  degrade: boolean;
  json: boolean;
  root: string;
  cwd: string | null;
  env: [string, string][];
  clearEnv: boolean;
  extraMounts: ExtraMountEntry[];
  writable: string[];
  readOnly: boolean;
  network: NetworkSetting | null;
  mounts: MountsSetting | null;
  hostname: string | null;
  stdout: OutputSetting;
  /** kind "stdout" merges stderr into stdout. */
  stderr: OutputSetting;
  /** A file, "null" for none; null keeps sandboxlib's stdin. */
  stdinFile: string | null;
  timeout: number | null;
  killAfter: number | null;
  passFds: number[];
  shareSession: boolean;
  capAdd: string[];
  capDrop: string[];
  uid: number | null;
  gid: number | null;
  seccomp: boolean;
  /** NAME -> [soft, hard], as --rlimit gave them. */
  rlimits: Record<string, [string, string]>;
  memory: number | null;
  pids: number | null;
  cpus: number | null;
  statusFd: number | null;
  /** Which image of an index to use (OCI). */
  imageRef: string | null;
  /** Unpack an image here and leave it for reuse. */
  keepRoot: string | null;
  command: string[];
}

export function defaultSettings(): RunSettings {
  return {
    backend: null, degrade: false, json: false, root: "/", cwd: null, env: [], clearEnv: false,
    extraMounts: [], writable: [], readOnly: false, network: null, mounts: null, hostname: null,
    stdout: { kind: "inherit" }, stderr: { kind: "inherit" }, stdinFile: null, timeout: null, killAfter: null,
    passFds: [], shareSession: false, capAdd: [], capDrop: [], uid: null, gid: null, seccomp: true, rlimits: {},
    memory: null, pids: null, cpus: null, statusFd: null, imageRef: null, keepRoot: null, command: [],
  };
}

/** Options that take a value. */
export const VALUE_OPTIONS = new Set([
  "--root", "--backend", "--cwd", "--env", "--mount", "--bind", "--ro-bind", "--proc", "--tmpfs", "--dev",
  "--writable", "--network", "--mounts", "--hostname", "--stdout", "--stderr", "--stdin", "--timeout", "--kill-after",
  "--pass-fd", "--cap-add", "--cap-drop", "--uid", "--gid", "--seccomp", "--rlimit", "--memory", "--pids", "--cpus",
  "--status-fd", "--image-ref", "--keep-root",
]);

/** Options that are flags. */
export const FLAG_OPTIONS = new Set(["--clear-env", "--read-only", "--degrade", "--json", "--share-session"]);

function choice<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw usageError(`invalid value for ${option}: ${shownValue(value)} (expected ${allowed.join(" or ")})`);
}

function nonEmpty(option: string, value: string): string {
  if (value === "") throw usageError(`empty value for ${option}`);
  return value;
}

/** A positive, finite decimal number (fractions allowed): seconds, CPUs. */
function positiveNumber(option: string, value: string, what: string): number {
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n > 0) || !Number.isFinite(n)) throw usageError(`invalid value for ${option}: ${shownValue(value)} (expected ${what})`);
  return n;
}

/** A non-negative integer, at least `min`. */
function integer(option: string, value: string, min: number, what: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) throw usageError(`invalid value for ${option}: ${shownValue(value)} (expected ${what})`);
  return n;
}

/** Converts a configuration error about a value into a usage error naming the option. */
function asUsage<T>(option: string, value: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw usageError(`invalid value for ${option}: ${shownValue(value)} (${(e as Error).message})`);
  }
}

/** "SRC:TARGET" of --bind / --ro-bind. */
function pair(option: string, value: string): [string, string] {
  const i = value.indexOf(":");
  if (i <= 0 || i === value.length - 1) throw usageError(`invalid value for ${option}: ${shownValue(value)} (expected SRC:TARGET)`);
  return [value.slice(0, i), value.slice(i + 1)];
}

/** SRC:TARGET:TYPE[:OPTIONS]; SRC may be empty or 'none'. */
export function parseMountSpec(value: string): ExtraMountEntry {
  const parts = value.split(":");
  if (parts.length < 3) throw usageError(`invalid value for --mount: ${shownValue(value)} (expected SRC:TARGET:TYPE[:OPTIONS])`);
  const [src, target, type, ...rest] = parts as [string, string, string, ...string[]];
  if (target === "") throw usageError(`invalid value for --mount: ${shownValue(value)} (empty TARGET)`);
  if (type === "") throw usageError(`invalid value for --mount: ${shownValue(value)} (empty TYPE)`);
  const source = src === "" || src === "none" ? null : src;
  return rest.length ? [source, target, type, rest.join(":")] : [source, target, type];
}

/** Applies one option (a flag when `value` is null) to `s`. */
export function applyOption(s: RunSettings, name: string, value: string | null): void {
  if (FLAG_OPTIONS.has(name)) {
    if (value !== null) throw usageError(`option takes no value: ${shownValue(name)}`);
    if (name === "--clear-env") s.clearEnv = true;
    if (name === "--read-only") s.readOnly = true;
    if (name === "--degrade") s.degrade = true;
    if (name === "--json") s.json = true;
    if (name === "--share-session") s.shareSession = true;
    return;
  }
  if (!VALUE_OPTIONS.has(name)) throw usageError(`unknown option: ${shownValue(name)}`);
  if (value === null) throw usageError(`option needs a value: ${shownValue(name)}`);
  switch (name) {
    case "--root":
      s.root = nonEmpty(name, value);
      break;
    case "--backend":
      s.backend = nonEmpty(name, value);
      break;
    case "--cwd":
      s.cwd = nonEmpty(name, value);
      break;
    case "--env": {
      const k = value.indexOf("=");
      if (k <= 0) throw usageError(`invalid value for --env: ${shownValue(value)} (expected NAME=VALUE)`);
      s.env.push([value.slice(0, k), value.slice(k + 1)]);
      break;
    }
    case "--mount":
      s.extraMounts.push(parseMountSpec(value));
      break;
    case "--bind":
    case "--ro-bind": {
      const [src, target] = pair(name, value);
      s.extraMounts.push([src, target, "bind", name === "--ro-bind" ? "ro" : ""]);
      break;
    }
    case "--proc":
      s.extraMounts.push([null, nonEmpty(name, value), "proc", "nosuid,nodev,noexec"]);
      break;
    case "--tmpfs":
      s.extraMounts.push([null, nonEmpty(name, value), "tmpfs", "nosuid,nodev"]);
      break;
    case "--dev":
      s.extraMounts.push([null, nonEmpty(name, value), "dev", ""]);
      break;
    case "--writable":
      s.writable.push(nonEmpty(name, value));
      break;
    case "--network":
      s.network = choice(name, value, ["undefined", "isolated"] as const);
      break;
    case "--mounts":
      s.mounts = choice(name, value, ["undefined", "isolated"] as const);
      break;
    case "--hostname":
      s.hostname = nonEmpty(name, value);
      break;
    case "--stdout":
      s.stdout = { kind: "file", path: nonEmpty(name, value) };
      break;
    case "--stderr":
      s.stderr = value === "stdout" ? { kind: "stdout" } : { kind: "file", path: nonEmpty(name, value) };
      break;
    case "--stdin":
      s.stdinFile = nonEmpty(name, value);
      break;
    case "--timeout":
    case "--kill-after": {
      const seconds = positiveNumber(name, value, "a positive number of seconds");
      if (seconds > MAX_DEADLINE_SECONDS) throw usageError(`invalid value for ${name}: ${shownValue(value)} (expected a positive number of seconds, at most ${MAX_DEADLINE_SECONDS})`);
      if (name === "--timeout") s.timeout = seconds;
      else s.killAfter = seconds;
      break;
    }
    case "--pass-fd":
      s.passFds.push(integer(name, value, 3, "a file descriptor number, 3 or above"));
      break;
    case "--status-fd":
      s.statusFd = integer(name, value, 1, "a file descriptor number, 1 or above");
      break;
    case "--cap-add":
      s.capAdd.push(asUsage(name, value, () => capabilityName(value)));
      break;
    case "--cap-drop":
      s.capDrop.push(value.toUpperCase() === "ALL" ? "ALL" : asUsage(name, value, () => capabilityName(value)));
      break;
    case "--uid":
      s.uid = integer(name, value, 0, "a user number");
      break;
    case "--gid":
      s.gid = integer(name, value, 0, "a group number");
      break;
    case "--seccomp":
      s.seccomp = choice(name, value, ["on", "off"] as const) === "on";
      break;
    case "--rlimit": {
      const r = asUsage(name, value, () => parseRlimit(value));
      const [soft, hard = soft] = value.slice(value.indexOf("=") + 1).split(":") as [string, string?];
      s.rlimits[r.name] = [soft, hard];
      break;
    }
    case "--memory":
      s.memory = asUsage(name, value, () => parseBytes(value, name));
      break;
    case "--pids":
      s.pids = integer(name, value, 1, "a positive number of processes");
      break;
    case "--cpus":
      s.cpus = positiveNumber(name, value, "a positive number of CPUs");
      break;
    case "--image-ref":
      s.imageRef = nonEmpty(name, value);
      break;
    case "--keep-root":
      s.keepRoot = nonEmpty(name, value);
      break;
  }
}

/** Checks that need every option: run once the settings are complete. */
export function checkSettings(s: RunSettings): void {
  const capturing = s.stdout.kind === "capture" || s.stderr.kind === "capture";
  if (s.json && (s.stdout.kind === "file" || s.stderr.kind === "file")) {
    throw usageError("--json captures both streams: it cannot be combined with --stdout or --stderr");
  }
  if (capturing && !s.json) throw usageError("stdout/stderr \"capture\" needs --json (or batch)");
}

/** Once an image's defaults are known: there must be a command. */
export function checkCommand(s: RunSettings): void {
  if (s.command.length === 0) throw usageError("no command given (usage: sandboxlib run [OPTIONS] [--] COMMAND [ARG...])");
}
