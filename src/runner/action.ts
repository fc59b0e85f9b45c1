// One Run request turned into one sandbox: the paths resolved inside the
// build directory (refused, naming the field, when they lead out), the
// sandbox's shape from the runner config. No process is started here.
import { statSync } from "node:fs";
import type { ExtraMountEntry } from "../config/types.ts";
import type { RunnerConfig } from "./config.ts";
import { BadRequest, inside, relativeParts } from "./paths.ts";

/** RunRequest as the gRPC layer decodes it (defaults filled in). */
export interface RunRequestMessage {
  arguments: string[];
  environment_variables: Record<string, string>;
  working_directory: string;
  stdout_path: string;
  stderr_path: string;
  input_root_directory: string;
  temporary_directory: string;
  server_logs_directory: string;
}

export interface ActionPlan {
  argv: string[];
  env: Record<string, string>;
  /** Host paths. */
  root: string;
  stdoutPath: string;
  stderrPath: string;
  serverLogs: string | null;
  /** The sandbox's options apart from its streams. */
  cwd: string;
  extraMounts: ExtraMountEntry[];
  writable: string[];
}

const show = (value: unknown) => JSON.stringify(value);

function directory(field: string, value: string, host: string): string {
  let st;
  try {
    st = statSync(host);
  } catch {
    throw new BadRequest(`${field}: no such directory in the build directory: ${show(value)}`);
  }
  if (!st.isDirectory()) throw new BadRequest(`${field}: not a directory: ${show(value)}`);
  return host;
}

/** Checks the fields that need no file system (pure). */
export function checkMessage(m: RunRequestMessage): void {
  if (!Array.isArray(m.arguments) || m.arguments.length === 0) throw new BadRequest("arguments: empty (expected the command and its arguments)");
  if (m.arguments[0] === "") throw new BadRequest('arguments[0]: the command is empty: ""');
  m.arguments.forEach((arg, i) => {
    if (arg.includes("\0")) throw new BadRequest(`arguments[${i}]: contains a NUL byte: ${show(arg)}`);
  });
  for (const [name, value] of Object.entries(m.environment_variables ?? {})) {
    if (name === "" || name.includes("=") || name.includes("\0")) throw new BadRequest(`environment_variables: invalid name: ${show(name)}`);
    if (value.includes("\0")) throw new BadRequest(`environment_variables[${show(name)}]: contains a NUL byte: ${show(value)}`);
  }
  relativeParts("input_root_directory", m.input_root_directory, false);
  relativeParts("working_directory", m.working_directory, true);
  relativeParts("stdout_path", m.stdout_path, false);
  relativeParts("stderr_path", m.stderr_path, false);
  if (m.temporary_directory !== "") relativeParts("temporary_directory", m.temporary_directory, false);
  if (m.server_logs_directory !== "") relativeParts("server_logs_directory", m.server_logs_directory, false);
}

/** The environment of the action: the config's additions, the request's own over them, TMPDIR when configured. Pure. */
export function actionEnvironment(config: RunnerConfig, requested: Record<string, string>, hasTmp: boolean): Record<string, string> {
  const env = { ...config.environment, ...requested };
  if (config.setTmpdir && hasTmp) env.TMPDIR = config.tmpMount;
  return env;
}

/** Mount options with "ro" added, unless they say "rw" or "ro" already. Pure. */
export function readOnlyUnlessRw(options: string): string {
  const words = options.split(",").filter(Boolean);
  return words.includes("rw") || words.includes("ro") ? options : [...words, "ro"].join(",");
}

const joinSandbox = (base: string, parts: string[]) => (base === "/" ? "" : base) + (parts.length ? `/${parts.join("/")}` : "") || "/";

/** The sandbox of one request; `buildDir` is canonical. Throws BadRequest. */
export function planAction(config: RunnerConfig, buildDir: string, m: RunRequestMessage): ActionPlan {
  checkMessage(m);
  const inputRoot = directory("input_root_directory", m.input_root_directory, inside(buildDir, "input_root_directory", m.input_root_directory));
  const wdParts = relativeParts("working_directory", m.working_directory, true);
  directory("working_directory", m.working_directory, inside(inputRoot, "working_directory", m.working_directory, true));
  const tmp = m.temporary_directory === "" ? null : directory("temporary_directory", m.temporary_directory, inside(buildDir, "temporary_directory", m.temporary_directory));
  const serverLogs = m.server_logs_directory === "" ? null : directory("server_logs_directory", m.server_logs_directory, inside(buildDir, "server_logs_directory", m.server_logs_directory));
  const stdoutPath = inside(buildDir, "stdout_path", m.stdout_path);
  const stderrPath = inside(buildDir, "stderr_path", m.stderr_path);
  if (stdoutPath === stderrPath) throw new BadRequest(`stderr_path: the same file as stdout_path: ${show(m.stderr_path)}`);

  const mounts: ExtraMountEntry[] = [];
  const writable: string[] = [];
  let root: string;
  let actionDir: string;
  if (config.root === "input") {
    root = inputRoot;
    actionDir = "/";
  } else {
    root = config.root;
    actionDir = config.inputRootMount;
    mounts.push([inputRoot, actionDir, "bind", ""]);
  }
  writable.push(actionDir);
  if (tmp !== null) {
    mounts.push([tmp, config.tmpMount, "bind", ""]);
    writable.push(config.tmpMount);
  }
  if (config.proc) mounts.push([null, "/proc", "proc", "nosuid,nodev,noexec"]);
  if (config.dev) mounts.push([null, "/dev", "dev", ""]);
  // The config's mounts are read-only unless they say "rw": the input root,
  // writable, may be the sandbox's root, and its submounts would be too.
  for (const mount of config.extraMounts) mounts.push([mount.source, mount.target, mount.type, readOnlyUnlessRw(mount.options)]);
  return {
    argv: [...m.arguments],
    env: actionEnvironment(config, m.environment_variables ?? {}, tmp !== null),
    root,
    stdoutPath,
    stderrPath,
    serverLogs,
    cwd: joinSandbox(actionDir, wdParts),
    extraMounts: mounts,
    writable,
  };
}
