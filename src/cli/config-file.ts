// `--config FILE|-` and batch lines: one JSON object whose keys are the
// config keys of option-table.ts: the Python library's vocabulary (command,
// cwd, env, filesystem_root, filesystem_writable_paths, mounts, extra_mounts,
// network, stdout, stderr) plus this project's own options under their
// command-line names ("timeout", "cap-add", ...). Every error names the JSON
// path of the offending field.
import { configError, SandboxError, usageError } from "../base/errors.ts";
import { BY_KEY, isFlag, member, type OptionSpec } from "./option-table.ts";
import { applyOption, defaultSettings, type RunSettings } from "./settings.ts";

export { member } from "./option-table.ts";

const at = (path: string, message: string) => configError(`${path}: ${message}`);

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

/** Applies one key, as OPTIONS declares it: its own JSON reader, or the flag's check on a string (or a list of them). */
function applyKey(s: RunSettings, option: OptionSpec, v: unknown): void {
  const key = option.key!;
  if (option.json) return option.json(s, v, key);
  const flag = option.flag!;
  const apply = (path: string, value: string | null) => {
    try {
      applyOption(s, flag, value);
    } catch (e) {
      throw at(path, (e as SandboxError).message);
    }
  };
  if (isFlag(option)) {
    if (typeof v !== "boolean") throw at(key, "expected true or false");
    if (v) apply(key, null);
    return;
  }
  const scalar = (path: string, x: unknown): string => {
    if (typeof x === "string") return x;
    if (typeof x === "number" && Number.isFinite(x)) return String(x);
    if (typeof x === "boolean" && key === "seccomp") return x ? "on" : "off";
    throw at(path, option.repeatable ? "expected a string or number, or a list of them" : "expected a string or number");
  };
  if (option.repeatable && Array.isArray(v)) v.forEach((x, i) => apply(`${key}[${i}]`, scalar(`${key}[${i}]`, x)));
  else apply(key, scalar(key, v));
}

/** Settings from one config object; `source` names it in messages ("line 3"). */
export function settingsFromConfig(value: unknown, source: string | null = null): RunSettings {
  try {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw configError("expected one JSON object");
    refuseNul(value);
    const s = defaultSettings();
    for (const [key, v] of Object.entries(value)) {
      const option = BY_KEY.get(key);
      if (!option) throw at(member("", key), "unknown key");
      applyKey(s, option, v);
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
