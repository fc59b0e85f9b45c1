// The settings of one `run` (or one batch entry), as options set them. The
// options themselves are declared once, in option-table.ts; the command line
// and config files both apply them from there, so an option means the same
// thing, with the same checks and messages, in either.
import { shownValue, usageError } from "../base/errors.ts";
import type { ExtraMountEntry, MountsSetting, NetworkSetting } from "../config/types.ts";
import { BY_FLAG, isFlag, OPTIONS } from "./option-table.ts";

export { parseMountSpec } from "./option-table.ts";

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
  /** --writable-create: writable paths to create where missing. */
  writableCreate: string[];
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
  /** --jobserver: pass on the caller's make jobserver (MAKEFLAGS). */
  jobserver: boolean;
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
    extraMounts: [], writable: [], writableCreate: [], readOnly: false, network: null, mounts: null, hostname: null,
    stdout: { kind: "inherit" }, stderr: { kind: "inherit" }, stdinFile: null, timeout: null, killAfter: null,
    passFds: [], jobserver: false, shareSession: false, capAdd: [], capDrop: [], uid: null, gid: null, seccomp: true, rlimits: {},
    memory: null, pids: null, cpus: null, statusFd: null, imageRef: null, keepRoot: null, command: [],
  };
}

/** Options that take a value. */
export const VALUE_OPTIONS: ReadonlySet<string> = new Set(OPTIONS.filter((o) => o.set && !isFlag(o)).map((o) => o.flag!));

/** Options that are flags. */
export const FLAG_OPTIONS: ReadonlySet<string> = new Set(OPTIONS.filter((o) => o.set && isFlag(o)).map((o) => o.flag!));

/** Applies one option (a flag when `value` is null) to `s`, as OPTIONS declares it. */
export function applyOption(s: RunSettings, name: string, value: string | null): void {
  const option = BY_FLAG.get(name);
  if (!option?.set) throw usageError(`unknown option: ${shownValue(name)}`);
  if (isFlag(option)) {
    if (value !== null) throw usageError(`option takes no value: ${shownValue(name)}`);
    option.set(s, "", name);
    return;
  }
  if (value === null) throw usageError(`option needs a value: ${shownValue(name)}`);
  option.set(s, value, name);
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
