// `--config FILE|-` and batch lines: one JSON object in the Python library's
// vocabulary (command, cwd, env, filesystem_root, filesystem_writable_paths,
// mounts, extra_mounts, network, stdout, stderr) plus this project's own
// options under their command-line names ("timeout", "cap-add", ...). Every
// error names the JSON path of the offending field.
import { configError, quoted, SandboxError, usageError } from "../base/errors.ts";
import { applyOption, defaultSettings, FLAG_OPTIONS, type OutputSetting, type RunSettings, VALUE_OPTIONS } from "./settings.ts";

/** Keys that repeat on the command line: a list of values in JSON. */
const REPEATABLE = new Set(["bind", "ro-bind", "proc", "tmpfs", "dev", "mount", "writable", "pass-fd", "cap-add", "cap-drop", "rlimit"]);

/** CLI options with a Python name in the config: use that one instead. */
const SHADOWED = new Set(["root", "cwd", "env", "network", "mounts", "stdout", "stderr"]);

const at = (path: string, message: string) => configError(`${path}: ${message}`);

/** The JSON path of member `key` of `path`: `env.HOME`, or `env["A B"]` for a name that is not plain. */
export function member(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${quoted(key)}]`;
}

/**
 * Where a NUL byte hides in a config value, if anywhere: the kernel takes
 * strings up to their first NUL, so `"cwd": "/tmp\u0000/x"` would silently
 * become /tmp. Every string and every name counts (command, cwd, env, mount
 * fields, paths, ids).
 */
export function findNul(value: unknown, path = ""): { path: string; what: string } | null {
  if (typeof value === "string") return value.includes("\0") ? { path, what: "contains a NUL byte" } : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (typeof value === "object" && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key.includes("\0")) return { path: member(path, key), what: "the name contains a NUL byte" };
      const found = findNul(v, member(path, key));
      if (found) return found;
    }
  }
  return null;
}

/** Refuses a config value with a NUL byte in any string, naming where. */
export function refuseNul(value: unknown): void {
  const found = findNul(value);
  if (found) throw at(found.path || "value", found.what);
}

function str(path: string, v: unknown): string {
  if (typeof v !== "string") throw at(path, "expected a string");
  return v;
}

function output(path: string, v: unknown, allowStdout: boolean): OutputSetting {
  if (v === null) return { kind: "null" };
  if (v === "inherit" || v === "capture") return { kind: v };
  if (allowStdout && v === "stdout") return { kind: "stdout" };
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const file = (v as { file?: unknown }).file;
    if (keys.length === 1 && typeof file === "string" && file !== "") return { kind: "file", path: file };
  }
  throw at(path, `expected null, "inherit", "capture"${allowStdout ? ', "stdout"' : ""} or {"file": PATH}`);
}

function extraMounts(v: unknown): RunSettings["extraMounts"] {
  if (!Array.isArray(v)) throw at("extra_mounts", "expected a list of [source, target, type, options]");
  return v.map((entry, i) => {
    const path = `extra_mounts[${i}]`;
    if (!Array.isArray(entry)) throw at(path, "expected [source, target, type, options]");
    if (entry.length !== 3 && entry.length !== 4) throw at(path, `expected 3 or 4 fields, not ${entry.length}`);
    entry.forEach((field, j) => {
      if (field !== null && typeof field !== "string") throw at(`${path}[${j}]`, "expected a string or null");
    });
    if (entry[1] === null || entry[1] === "") throw at(`${path}[1]`, "mount point is empty");
    return entry.length === 3 ? [entry[0], entry[1], entry[2]] : [entry[0], entry[1], entry[2], entry[3]];
  });
}

/** Applies a Python-named key. */
function applyPythonKey(s: RunSettings, key: string, v: unknown): boolean {
  switch (key) {
    case "command":
      if (typeof v === "string" && v !== "") s.command = [v];
      else if (Array.isArray(v) && v.length > 0) s.command = v.map((a, i) => str(`command[${i}]`, a));
      else throw at("command", "expected a string or a non-empty list of strings");
      return true;
    case "cwd":
      s.cwd = v === null ? null : str("cwd", v);
      return true;
    case "env":
      // As in Python: a given env is the whole environment.
      if (v === null) return true;
      if (typeof v !== "object" || Array.isArray(v)) throw at("env", "expected an object of strings");
      s.clearEnv = true;
      s.env = Object.entries(v as Record<string, unknown>).map(([name, value]) => [name, str(member("env", name), value)]);
      return true;
    case "filesystem_root":
      s.root = str("filesystem_root", v);
      if (s.root === "") throw at("filesystem_root", "is empty");
      return true;
    case "filesystem_writable_paths":
      if (v === "all" || v === "none") {
        s.readOnly = v === "none";
        s.writable = [];
      } else if (Array.isArray(v)) {
        s.writable = v.map((p, i) => str(`filesystem_writable_paths[${i}]`, p));
      } else throw at("filesystem_writable_paths", 'expected "all", "none" or a list of paths');
      return true;
    case "mounts":
    case "network":
      if (v !== "undefined" && v !== "isolated") throw at(key, 'expected "undefined" or "isolated"');
      s[key] = v;
      return true;
    case "extra_mounts":
      s.extraMounts = v === null ? [] : extraMounts(v);
      return true;
    case "stdout":
      s.stdout = output("stdout", v, false);
      return true;
    case "stderr":
      s.stderr = output("stderr", v, true);
      return true;
  }
  return false;
}

/** Applies a key named after a command-line option ("timeout", "cap-add"). */
function applyCliKey(s: RunSettings, key: string, v: unknown): void {
  const option = `--${key}`;
  const apply = (path: string, value: string | null) => {
    try {
      applyOption(s, option, value);
    } catch (e) {
      throw at(path, (e as SandboxError).message);
    }
  };
  if (FLAG_OPTIONS.has(option)) {
    if (typeof v !== "boolean") throw at(key, "expected true or false");
    if (v) apply(key, null);
    return;
  }
  const scalar = (path: string, x: unknown): string => {
    if (typeof x === "string") return x;
    if (typeof x === "number" && Number.isFinite(x)) return String(x);
    if (typeof x === "boolean" && key === "seccomp") return x ? "on" : "off";
    throw at(path, REPEATABLE.has(key) ? "expected a string or number, or a list of them" : "expected a string or number");
  };
  if (REPEATABLE.has(key) && Array.isArray(v)) v.forEach((x, i) => apply(`${key}[${i}]`, scalar(`${key}[${i}]`, x)));
  else apply(key, scalar(key, v));
}

/** Settings from one config object; `source` names it in messages ("line 3"). */
export function settingsFromConfig(value: unknown, source: string | null = null): RunSettings {
  try {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw configError("expected one JSON object");
    refuseNul(value);
    const s = defaultSettings();
    for (const [key, v] of Object.entries(value)) {
      if (applyPythonKey(s, key, v)) continue;
      if (SHADOWED.has(key) || !(FLAG_OPTIONS.has(`--${key}`) || VALUE_OPTIONS.has(`--${key}`))) throw at(member("", key), "unknown key");
      applyCliKey(s, key, v);
    }
    return s;
  } catch (e) {
    if (e instanceof SandboxError && source) throw new SandboxError(e.kind, `${source}: ${e.message}`);
    throw e;
  }
}

/** Parses the text of a config file. */
export function parseConfigText(text: string, source: string): RunSettings {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw usageError(`${source}: invalid JSON: ${(e as Error).message}`);
  }
  return settingsFromConfig(value, source);
}
