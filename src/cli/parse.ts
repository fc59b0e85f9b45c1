// The command line, parsed into data. Pure: files named by options are
// opened later, by main.ts.
import { usageError } from "../config/errors.ts";
import type { ExtraMountEntry, MountsSetting, NetworkSetting } from "../config/types.ts";
import { capabilityName } from "../hardening/capabilities.ts";
import { parseRlimit } from "../hardening/rlimits.ts";
import { parseBytes } from "../hardening/sizes.ts";

export interface RunRequest {
  kind: "run";
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
  stdoutFile: string | null;
  /** A file, or "stdout" to merge into stdout. */
  stderrFile: string | null;
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
  command: string[];
}

export type Request =
  | RunRequest
  | { kind: "capabilities"; backend: string | null }
  | { kind: "help"; topic: "main" | "run" }
  | { kind: "version" };

/** Options that take a value, and whether they may repeat. */
const VALUE_OPTIONS = new Set([
  "--root", "--backend", "--cwd", "--env", "--mount", "--bind", "--ro-bind", "--proc", "--tmpfs", "--dev",
  "--writable", "--network", "--mounts", "--hostname", "--stdout", "--stderr", "--stdin", "--timeout", "--kill-after",
  "--pass-fd", "--cap-add", "--cap-drop", "--uid", "--gid", "--seccomp", "--rlimit", "--memory", "--pids", "--cpus",
  "--status-fd",
]);
const FLAG_OPTIONS = new Set(["--clear-env", "--read-only", "--degrade", "--json", "--help", "--share-session"]);

/** A positive, finite decimal number (fractions allowed): seconds, CPUs. */
function positiveNumber(option: string, value: string, what: string): number {
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n > 0) || !Number.isFinite(n)) throw usageError(`invalid value for ${option}: ${value} (expected ${what})`);
  return n;
}

/** A non-negative integer, at least `min`. */
function integer(option: string, value: string, min: number, what: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) throw usageError(`invalid value for ${option}: ${value} (expected ${what})`);
  return n;
}

/** Converts a configuration error about a value into a usage error naming the option. */
function asUsage<T>(option: string, value: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw usageError(`invalid value for ${option}: ${value} (${(e as Error).message})`);
  }
}

function choice<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw usageError(`invalid value for ${option}: ${value} (expected ${allowed.join(" or ")})`);
}

function nonEmpty(option: string, value: string): string {
  if (value === "") throw usageError(`empty value for ${option}`);
  return value;
}

/** "SRC:TARGET" of --bind / --ro-bind. */
function pair(option: string, value: string): [string, string] {
  const i = value.indexOf(":");
  if (i <= 0 || i === value.length - 1) throw usageError(`invalid value for ${option}: ${value} (expected SRC:TARGET)`);
  return [value.slice(0, i), value.slice(i + 1)];
}

/** SRC:TARGET:TYPE[:OPTIONS]; SRC may be empty or 'none'. */
export function parseMountSpec(value: string): ExtraMountEntry {
  const parts = value.split(":");
  if (parts.length < 3) throw usageError(`invalid value for --mount: ${value} (expected SRC:TARGET:TYPE[:OPTIONS])`);
  const [src, target, type, ...rest] = parts as [string, string, string, ...string[]];
  if (target === "") throw usageError(`invalid value for --mount: ${value} (empty TARGET)`);
  if (type === "") throw usageError(`invalid value for --mount: ${value} (empty TYPE)`);
  const source = src === "" || src === "none" ? null : src;
  return rest.length ? [source, target, type, rest.join(":")] : [source, target, type];
}

function parseRun(args: string[]): RunRequest | { kind: "help"; topic: "run" } {
  const req: RunRequest = {
    kind: "run", backend: null, degrade: false, json: false, root: "/", cwd: null, env: [], clearEnv: false,
    extraMounts: [], writable: [], readOnly: false, network: null, mounts: null, hostname: null,
    stdoutFile: null, stderrFile: null, stdinFile: null, timeout: null, killAfter: null, passFds: [], shareSession: false,
    capAdd: [], capDrop: [], uid: null, gid: null, seccomp: true, rlimits: {}, memory: null, pids: null, cpus: null,
    statusFd: null, command: [],
  };
  let i = 0;
  while (i < args.length) {
    const arg = args[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    if (FLAG_OPTIONS.has(name)) {
      if (name !== arg) throw usageError(`option takes no value: ${name}`);
      if (name === "--help") return { kind: "help", topic: "run" };
      if (name === "--clear-env") req.clearEnv = true;
      if (name === "--read-only") req.readOnly = true;
      if (name === "--degrade") req.degrade = true;
      if (name === "--json") req.json = true;
      if (name === "--share-session") req.shareSession = true;
      i++;
      continue;
    }
    if (!VALUE_OPTIONS.has(name)) throw usageError(`unknown option: ${name}`);
    let value: string;
    if (name !== arg) {
      value = arg.slice(eq + 1);
      i++;
    } else {
      if (i + 1 >= args.length) throw usageError(`option needs a value: ${name}`);
      value = args[i + 1]!;
      i += 2;
    }
    switch (name) {
      case "--root":
        req.root = nonEmpty(name, value);
        break;
      case "--backend":
        req.backend = nonEmpty(name, value);
        break;
      case "--cwd":
        req.cwd = nonEmpty(name, value);
        break;
      case "--env": {
        const k = value.indexOf("=");
        if (k <= 0) throw usageError(`invalid value for --env: ${value} (expected NAME=VALUE)`);
        req.env.push([value.slice(0, k), value.slice(k + 1)]);
        break;
      }
      case "--mount":
        req.extraMounts.push(parseMountSpec(value));
        break;
      case "--bind":
      case "--ro-bind": {
        const [src, target] = pair(name, value);
        req.extraMounts.push([src, target, "bind", name === "--ro-bind" ? "ro" : ""]);
        break;
      }
      case "--proc":
        req.extraMounts.push([null, nonEmpty(name, value), "proc", "nosuid,nodev,noexec"]);
        break;
      case "--tmpfs":
        req.extraMounts.push([null, nonEmpty(name, value), "tmpfs", "nosuid,nodev"]);
        break;
      case "--dev":
        req.extraMounts.push([null, nonEmpty(name, value), "dev", ""]);
        break;
      case "--writable":
        req.writable.push(nonEmpty(name, value));
        break;
      case "--network":
        req.network = choice(name, value, ["undefined", "isolated"] as const);
        break;
      case "--mounts":
        req.mounts = choice(name, value, ["undefined", "isolated"] as const);
        break;
      case "--hostname":
        req.hostname = nonEmpty(name, value);
        break;
      case "--stdout":
        req.stdoutFile = nonEmpty(name, value);
        break;
      case "--stderr":
        req.stderrFile = nonEmpty(name, value);
        break;
      case "--stdin":
        req.stdinFile = nonEmpty(name, value);
        break;
      case "--timeout":
        req.timeout = positiveNumber(name, value, "a positive number of seconds");
        break;
      case "--kill-after":
        req.killAfter = positiveNumber(name, value, "a positive number of seconds");
        break;
      case "--pass-fd":
        req.passFds.push(integer(name, value, 3, "a file descriptor number, 3 or above"));
        break;
      case "--status-fd":
        req.statusFd = integer(name, value, 1, "a file descriptor number, 1 or above");
        break;
      case "--cap-add":
        req.capAdd.push(asUsage(name, value, () => capabilityName(value)));
        break;
      case "--cap-drop":
        req.capDrop.push(value.toUpperCase() === "ALL" ? "ALL" : asUsage(name, value, () => capabilityName(value)));
        break;
      case "--uid":
        req.uid = integer(name, value, 0, "a user number");
        break;
      case "--gid":
        req.gid = integer(name, value, 0, "a group number");
        break;
      case "--seccomp":
        req.seccomp = choice(name, value, ["on", "off"] as const) === "on";
        break;
      case "--rlimit": {
        const r = asUsage(name, value, () => parseRlimit(value));
        const [soft, hard = soft] = value.slice(value.indexOf("=") + 1).split(":") as [string, string?];
        req.rlimits[r.name] = [soft, hard];
        break;
      }
      case "--memory":
        req.memory = asUsage(name, value, () => parseBytes(value, name));
        break;
      case "--pids":
        req.pids = integer(name, value, 1, "a positive number of processes");
        break;
      case "--cpus":
        req.cpus = positiveNumber(name, value, "a positive number of CPUs");
        break;
    }
  }
  req.command = args.slice(i);
  if (req.command.length === 0) throw usageError("no command given (usage: sandboxlib run [OPTIONS] [--] COMMAND [ARG...])");
  if (req.json && (req.stdoutFile !== null || req.stderrFile !== null)) {
    throw usageError("--json captures both streams: it cannot be combined with --stdout or --stderr");
  }
  return req;
}

export function parseCommandLine(argv: readonly string[]): Request {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") return { kind: "help", topic: "main" };
  if (sub === "--version" || sub === "-V") return { kind: "version" };
  if (sub === "run") return parseRun(rest);
  if (sub === "capabilities") {
    let backend: string | null = null;
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!;
      if (arg === "--backend" && i + 1 < rest.length) backend = nonEmpty(arg, rest[++i]!);
      else if (arg.startsWith("--backend=")) backend = nonEmpty("--backend", arg.slice(10));
      else if (arg === "--help") return { kind: "help", topic: "main" };
      else throw usageError(`unknown option: ${arg}`);
    }
    return { kind: "capabilities", backend };
  }
  throw usageError(`unknown command: ${sub} (expected run or capabilities)`);
}
