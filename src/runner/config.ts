// The runner's configuration: a JSON object, checked whole at start-up (a
// bad one stops the runner with one line naming the key). Keys, all optional:
//
//   root             "input" (default): the action's input root is the
//                    sandbox's root; or a directory: the base root filesystem
//                    the input root is bound into (for actions that use the
//                    worker's tools), read-only
//   input_root_mount where the input root appears in a base root ("/build")
//   tmp_mount        where the action's temporary directory appears ("/tmp")
//   extra_mounts     more mounts, [source, target, type, options] as in the
//                    --config of `run` (read-only unless under the above)
//   environment      variables added to each action's own
//   set_tmpdir       TMPDIR = tmp_mount in the action's environment (false)
//   network          "isolated" (default) or "host"
//   proc, dev        mount /proc and a minimal /dev (true, true)
//   memory, pids, cpus  per-action cgroup limits (bytes; count; CPUs)
//   hostname         the sandbox's host name ("localhost")
import { validateExtraMounts } from "../config/extra-mounts.ts";
import type { ExtraMount, ExtraMountEntry } from "../config/types.ts";
import { MIN_MEMORY } from "../config/options.ts";

export interface RunnerConfig {
  root: "input" | string;
  inputRootMount: string;
  tmpMount: string;
  extraMounts: ExtraMount[];
  environment: Record<string, string>;
  setTmpdir: boolean;
  network: "isolated" | "host";
  proc: boolean;
  dev: boolean;
  memory: number | null;
  pids: number | null;
  cpus: number | null;
  hostname: string;
}

export const DEFAULT_RUNNER_CONFIG: RunnerConfig = {
  root: "input",
  inputRootMount: "/build",
  tmpMount: "/tmp",
  extraMounts: [],
  environment: {},
  setTmpdir: false,
  network: "isolated",
  proc: true,
  dev: true,
  memory: null,
  pids: null,
  cpus: null,
  hostname: "localhost",
};

/** A bad runner config: the runner does not start. */
export class RunnerConfigError extends Error {
  override readonly name = "RunnerConfigError";
}

const KEYS = ["root", "input_root_mount", "tmp_mount", "extra_mounts", "environment", "set_tmpdir", "network", "proc", "dev", "memory", "pids", "cpus", "hostname"];

function absolute(key: string, v: unknown): string {
  if (typeof v !== "string" || !v.startsWith("/") || v.includes("\0") || v.split("/").includes("..")) {
    throw new RunnerConfigError(`${key}: expected an absolute path without "..", got ${JSON.stringify(v)}`);
  }
  return v;
}

function bool(key: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new RunnerConfigError(`${key}: expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

function positive(key: string, v: unknown, integer: boolean, min = 0): number | null {
  if (v === null) return null;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= min || (integer && !Number.isInteger(v))) {
    throw new RunnerConfigError(`${key}: expected a positive ${integer ? "integer" : "number"}${min ? ` above ${min}` : ""}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Checks a parsed config value; `source` names it in messages. Pure. */
export function runnerConfigFrom(value: unknown): RunnerConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new RunnerConfigError("expected a JSON object");
  const c: RunnerConfig = { ...DEFAULT_RUNNER_CONFIG, environment: {}, extraMounts: [] };
  for (const [key, v] of Object.entries(value)) {
    switch (key) {
      case "root":
        c.root = v === "input" ? "input" : absolute(key, v);
        break;
      case "input_root_mount":
        c.inputRootMount = absolute(key, v);
        break;
      case "tmp_mount":
        c.tmpMount = absolute(key, v);
        break;
      case "extra_mounts":
        if (!Array.isArray(v)) throw new RunnerConfigError(`extra_mounts: expected a list of [source, target, type, options] entries`);
        try {
          c.extraMounts = validateExtraMounts(v as ExtraMountEntry[]);
        } catch (e) {
          throw new RunnerConfigError(`extra_mounts: ${(e as Error).message}`);
        }
        break;
      case "environment":
        if (typeof v !== "object" || v === null || Array.isArray(v)) throw new RunnerConfigError("environment: expected an object of strings");
        for (const [name, val] of Object.entries(v)) {
          if (name === "" || name.includes("=") || name.includes("\0")) throw new RunnerConfigError(`environment: invalid variable name ${JSON.stringify(name)}`);
          if (typeof val !== "string" || val.includes("\0")) throw new RunnerConfigError(`environment.${name}: expected a string without NUL bytes`);
          c.environment[name] = val;
        }
        break;
      case "set_tmpdir":
        c.setTmpdir = bool(key, v);
        break;
      case "network":
        if (v !== "isolated" && v !== "host") throw new RunnerConfigError(`network: expected "isolated" or "host", got ${JSON.stringify(v)}`);
        c.network = v;
        break;
      case "proc":
        c.proc = bool(key, v);
        break;
      case "dev":
        c.dev = bool(key, v);
        break;
      case "memory": {
        c.memory = positive(key, v, true);
        if (c.memory !== null && c.memory < MIN_MEMORY) throw new RunnerConfigError(`memory: ${c.memory} bytes is below the minimum of ${MIN_MEMORY} a sandbox needs`);
        break;
      }
      case "pids":
        c.pids = positive(key, v, true);
        break;
      case "cpus":
        c.cpus = positive(key, v, false);
        break;
      case "hostname":
        if (typeof v !== "string" || !/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(v)) throw new RunnerConfigError(`hostname: invalid host name ${JSON.stringify(v)}`);
        c.hostname = v;
        break;
      default:
        throw new RunnerConfigError(`unknown key ${JSON.stringify(key)} (expected one of ${KEYS.join(", ")})`);
    }
  }
  if (c.root !== "input" && c.inputRootMount === c.tmpMount) throw new RunnerConfigError("input_root_mount and tmp_mount must differ");
  return c;
}

/** Parses the text of a config file. */
export function parseRunnerConfig(text: string): RunnerConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RunnerConfigError(`invalid JSON: ${(e as Error).message}`);
  }
  return runnerConfigFrom(value);
}
