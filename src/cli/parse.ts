// The command line, parsed into data. Pure: files named by options are
// opened later, by main.ts.
import { shownValue, usageError } from "../base/errors.ts";
import { applyOption, defaultSettings, FLAG_OPTIONS, type RunSettings, VALUE_OPTIONS } from "./settings.ts";

/** One option as given: applied after the config file, so it overrides it. */
export type OptionUse = [name: string, value: string | null];

export interface RunRequest {
  kind: "run";
  /** --config FILE, or "-" for stdin. */
  configFile: string | null;
  options: OptionUse[];
  command: string[];
  /** --print-plan: print the plan as JSON instead of running it. */
  printPlan: boolean;
}

export interface BatchRequest {
  kind: "batch";
  jobs: number;
  /** A file of JSON lines, or "-" (default) for stdin. */
  input: string;
}

/** `sandboxlib runner`: the gRPC runner of a Buildbarn worker. */
export interface RunnerRequest {
  kind: "runner";
  /** The socket path of --listen unix:PATH. */
  socket: string;
  buildDirectory: string;
  configFile: string | null;
}

export type Request =
  | RunRequest
  | BatchRequest
  | RunnerRequest
  | { kind: "capabilities"; backend: string | null }
  | { kind: "check"; args: string[] }
  | { kind: "help"; topic: "main" | "run" | "batch" | "runner" }
  | { kind: "version" };

function parseRun(args: string[]): RunRequest | { kind: "help"; topic: "run" } {
  const req: RunRequest = { kind: "run", configFile: null, options: [], command: [], printPlan: false };
  // Every option is checked here, on scratch settings, so that a bad value
  // is reported before any config file is read.
  const scratch: RunSettings = defaultSettings();
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
    const inline = name !== arg ? arg.slice(eq + 1) : null;
    if (name === "--help") {
      if (inline !== null) throw usageError(`option takes no value: ${shownValue(name)}`);
      return { kind: "help", topic: "run" };
    }
    if (name === "--print-plan") {
      if (inline !== null) throw usageError(`option takes no value: ${shownValue(name)}`);
      req.printPlan = true;
      i++;
      continue;
    }
    if (name !== "--config" && !FLAG_OPTIONS.has(name) && !VALUE_OPTIONS.has(name)) throw usageError(`unknown option: ${shownValue(name)}`);
    let value: string | null = inline;
    if (!FLAG_OPTIONS.has(name)) {
      if (value === null) {
        if (i + 1 >= args.length) throw usageError(`option needs a value: ${shownValue(name)}`);
        value = args[++i]!;
      }
    }
    i++;
    if (name === "--config") {
      if (value === "") throw usageError("empty value for --config");
      req.configFile = value;
      continue;
    }
    applyOption(scratch, name, value);
    req.options.push([name, value]);
  }
  req.command = args.slice(i);
  return req;
}

function parseBatch(args: string[]): BatchRequest | { kind: "help"; topic: "batch" } {
  const req: BatchRequest = { kind: "batch", jobs: 1, input: "-" };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, null];
    if (name === "--help") return { kind: "help", topic: "batch" };
    if (name === "--jobs") {
      const value = inline ?? args[++i];
      if (value === undefined) throw usageError("option needs a value: --jobs");
      const n = /^\d+$/.test(value) ? Number(value) : 0;
      if (n < 1 || n > 1024) throw usageError(`invalid value for --jobs: ${shownValue(value)} (expected a number from 1 to 1024)`);
      req.jobs = n;
    } else if (!name.startsWith("-") || name === "-") {
      if (i !== args.length - 1) throw usageError(`unexpected argument: ${shownValue(args[i + 1]!)}`);
      req.input = name;
    } else throw usageError(`unknown option: ${shownValue(name)}`);
  }
  return req;
}

/** The socket of --listen: unix:PATH or unix://PATH (an absolute path), as gRPC spells them. Pure. */
export function listenSocket(value: string): string {
  const path = value.startsWith("unix://") ? value.slice(7) : value.startsWith("unix:") ? value.slice(5) : null;
  if (path === null || path === "" || (value.startsWith("unix://") && !path.startsWith("/"))) {
    throw usageError(`invalid value for --listen: ${shownValue(value)} (expected unix:PATH or unix:///ABSOLUTE/PATH)`);
  }
  return path;
}

function parseRunner(args: string[]): RunnerRequest | { kind: "help"; topic: "runner" } {
  let socket: string | null = null;
  let buildDirectory: string | null = null;
  let configFile: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, null];
    if (name === "--help") return { kind: "help", topic: "runner" };
    if (name !== "--listen" && name !== "--build-directory" && name !== "--config") {
      throw usageError(name.startsWith("-") ? `unknown option: ${shownValue(name)}` : `unexpected argument: ${shownValue(name)}`);
    }
    const value = inline ?? args[++i];
    if (value === undefined) throw usageError(`option needs a value: ${name}`);
    if (value === "") throw usageError(`empty value for ${name}`);
    if (name === "--listen") socket = listenSocket(value);
    else if (name === "--build-directory") buildDirectory = value;
    else configFile = value;
  }
  if (socket === null) throw usageError("runner: --listen unix:PATH is required");
  if (buildDirectory === null) throw usageError("runner: --build-directory DIR is required");
  return { kind: "runner", socket, buildDirectory, configFile };
}

export function parseCommandLine(argv: readonly string[]): Request {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") return { kind: "help", topic: "main" };
  if (sub === "--version" || sub === "-V") return { kind: "version" };
  if (sub === "run") return parseRun(rest);
  if (sub === "batch") return parseBatch(rest);
  if (sub === "check") return { kind: "check", args: rest };
  if (sub === "runner") return parseRunner(rest);
  if (sub === "capabilities") {
    let backend: string | null = null;
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!;
      if (arg === "--backend" && i + 1 < rest.length) backend = rest[++i]!;
      else if (arg.startsWith("--backend=")) backend = arg.slice(10);
      else if (arg === "--help") return { kind: "help", topic: "main" };
      else throw usageError(`unknown option: ${shownValue(arg)}`);
      if (backend === "") throw usageError("empty value for --backend");
    }
    return { kind: "capabilities", backend };
  }
  throw usageError(`unknown command: ${shownValue(sub)} (expected run, batch, runner, capabilities or check)`);
}

/** The settings of a run: defaults, then the config file's, then the command line's. */
export function settingsFor(req: RunRequest, fromConfig: RunSettings | null): RunSettings {
  const s = fromConfig ?? defaultSettings();
  for (const [name, value] of req.options) applyOption(s, name, value);
  if (req.command.length) s.command = req.command;
  return s;
}
