// Every option of `run` (and of a config file or batch line), declared once:
// its flag, its config key, the Python library's name for it, its default,
// its help text and how a value is checked and applied. The command-line
// parser, the config-file reader, `run --help` and the README's option
// table (scripts/readme-options.ts) all come from OPTIONS.
import { configError, quoted, shownValue, usageError } from "../base/errors.ts";
import { capabilityName } from "../hardening/capabilities.ts";
import { makeRlimit } from "../hardening/rlimits.ts";
import { parseBytes } from "../hardening/sizes.ts";
import { MAX_DEADLINE_SECONDS } from "../supervise/deadline.ts";
import { type ExtraMountEntry, NAMESPACE_SETTINGS } from "../config/types.ts";
import { validateExtraMounts } from "../config/extra-mounts.ts";
import type { OutputSetting, RunSettings } from "./settings.ts";

export interface OptionSpec {
  /** "--root"; null for a config key with no flag (command, extra_mounts). */
  flag: string | null;
  /** The value's name in help ("DIR"); absent for a flag that takes none. */
  arg?: string;
  /** The key in a config file or batch line; null: command line only. */
  key: string | null;
  /** The Python library's keyword argument, where it has one. */
  python?: string;
  /** Given again, it adds a value (a list of values in a config file). */
  repeatable?: boolean;
  /** The default, as help shows it. */
  default?: string;
  /** Help text (one paragraph; wrapped when shown). */
  help: string;
  /** Where --help lists it. */
  group: "run" | "control";
  /** Checks a command-line value (a string; "" for a flag) and applies it. */
  set?: (s: RunSettings, value: string, flag: string) => void;
  /** Reads the config key's JSON value where it is not the flag's string (or list of strings). */
  json?: (s: RunSettings, v: unknown, key: string) => void;
}

// ---- Checks of command-line values; each message names the option.

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

function seconds(option: string, value: string): number {
  const n = positiveNumber(option, value, "a positive number of seconds");
  if (n > MAX_DEADLINE_SECONDS) throw usageError(`invalid value for ${option}: ${shownValue(value)} (expected a positive number of seconds, at most ${MAX_DEADLINE_SECONDS})`);
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

/** NAME=SOFT[:HARD], split once and checked once: NAME -> [soft, hard]. */
function rlimitSpec(option: string, spec: string): [name: string, soft: string, hard: string] {
  return asUsage(option, spec, () => {
    const eq = spec.indexOf("=");
    const [soft, hard, extra] = spec.slice(eq + 1).split(":");
    if (eq <= 0 || soft === undefined || soft === "" || extra !== undefined || hard === "") {
      throw configError(`invalid rlimit: ${spec} (expected NAME=SOFT[:HARD])`);
    }
    const r = makeRlimit(spec.slice(0, eq), soft, hard);
    return [r.name, soft, hard ?? soft];
  });
}

// ---- Readers of the Python-named config keys; each message names the JSON path.

const at = (path: string, message: string) => configError(`${path}: ${message}`);

/** The JSON path of member `key` of `path`: `env.HOME`, or `env["A B"]` for a name that is not plain. */
export function member(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${quoted(key)}]`;
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

/** extra_mounts: checked by the library's own validate_extra_mounts, its message located by the entry's JSON path. */
function extraMounts(v: unknown): RunSettings["extraMounts"] {
  if (!Array.isArray(v)) throw at("extra_mounts", "expected a list of [source, target, type, options]");
  return v.map((entry, i) => {
    try {
      validateExtraMounts([entry]);
    } catch (e) {
      throw at(`extra_mounts[${i}]`, (e as Error).message);
    }
    return entry as ExtraMountEntry;
  });
}

/** network and mounts: the same two values on the command line, in a config file and in the library. */
const NAMESPACE_CHOICES = NAMESPACE_SETTINGS;

function namespaceJson(s: RunSettings, v: unknown, key: string): void {
  if (!(NAMESPACE_CHOICES as readonly unknown[]).includes(v)) throw at(key, `expected ${NAMESPACE_CHOICES.map((c) => `"${c}"`).join(" or ")}`);
  s[key as "network" | "mounts"] = v as (typeof NAMESPACE_CHOICES)[number];
}

// ---- The table.

export const OPTIONS: readonly OptionSpec[] = [
  {
    flag: null, key: "command", python: "command", group: "run",
    help: "The command: a list of arguments, or a string that is the whole argv[0] (config only; on the command line it follows the options).",
    json: (s, v) => {
      if (typeof v === "string" && v !== "") s.command = [v];
      else if (Array.isArray(v) && v.length > 0) s.command = v.map((a, i) => str(`command[${i}]`, a));
      else throw at("command", "expected a string or a non-empty list of strings");
    },
  },
  {
    flag: "--config", arg: "FILE|-", key: null, group: "run",
    help: "Read one JSON object of settings, under their config keys, from FILE or stdin; options given on the command line override it.",
  },
  {
    flag: "--print-plan", key: null, group: "run",
    help: "Print the plan as JSON (backend, namespaces, the sandbox process's steps) and exit 0: nothing is run or created; needs a directory as --root.",
  },
  {
    flag: "--root", arg: "DIR", key: "filesystem_root", python: "filesystem_root", group: "run", default: "/",
    help: "The sandbox's root: a directory, a root filesystem tarball (plain, gzip, xz, zstd, bzip2), an OCI image (layout directory or tar), a 'docker save' archive or an App Container image (.aci), detected by content.",
    set: (s, v, f) => void (s.root = nonEmpty(f, v)),
    json: (s, v) => {
      s.root = str("filesystem_root", v);
      if (s.root === "") throw at("filesystem_root", "is empty");
    },
  },
  {
    flag: "--backend", arg: "NAME", key: "backend", group: "run", default: "SANDBOXLIB_BACKEND, else linux where it can run, chroot with a warning where not",
    help: "linux or chroot (bubblewrap and linux-user-chroot mean linux).",
    set: (s, v, f) => void (s.backend = nonEmpty(f, v)),
  },
  {
    flag: "--cwd", arg: "DIR", key: "cwd", python: "cwd", group: "run", default: "/ with --root, else the current one",
    help: "The working directory inside the sandbox.",
    set: (s, v, f) => void (s.cwd = nonEmpty(f, v)),
    json: (s, v) => void (s.cwd = v === null ? null : str("cwd", v)),
  },
  {
    flag: "--env", arg: "NAME=VALUE", key: "env", python: "env", repeatable: true, group: "run",
    help: "Set a variable. The config key is an object that is the whole environment, as in Python.",
    set: (s, v) => {
      const k = v.indexOf("=");
      if (k <= 0) throw usageError(`invalid value for --env: ${shownValue(v)} (expected NAME=VALUE)`);
      s.env.push([v.slice(0, k), v.slice(k + 1)]);
    },
    json: (s, v) => {
      // As in Python: a given env is the whole environment.
      if (v === null) return;
      if (typeof v !== "object" || Array.isArray(v)) throw at("env", "expected an object of strings");
      s.clearEnv = true;
      s.env = Object.entries(v as Record<string, unknown>).map(([name, value]) => [name, str(member("env", name), value)]);
    },
  },
  {
    flag: "--clear-env", key: "clear-env", group: "run",
    help: "Start from an empty environment.",
    set: (s) => void (s.clearEnv = true),
  },
  {
    flag: null, key: "extra_mounts", python: "extra_mounts", group: "run",
    help: "A list of [source, target, type, options] entries, fstab style (config only; --mount gives one).",
    json: (s, v) => void (s.extraMounts = v === null ? [] : extraMounts(v)),
  },
  {
    flag: "--mount", arg: "SRC:TARGET:TYPE[:OPTIONS]", key: "mount", repeatable: true, group: "run",
    help: "One extra_mounts entry, fstab style (SRC may be empty or 'none').",
    set: (s, v) => void s.extraMounts.push(parseMountSpec(v)),
  },
  {
    flag: "--bind", arg: "SRC:TARGET", key: "bind", repeatable: true, group: "run",
    help: "Bind SRC (a host path) on TARGET.",
    set: (s, v, f) => void s.extraMounts.push([...pair(f, v), "bind", ""]),
  },
  {
    flag: "--ro-bind", arg: "SRC:TARGET", key: "ro-bind", repeatable: true, group: "run",
    help: "The same, read-only (submounts included).",
    set: (s, v, f) => void s.extraMounts.push([...pair(f, v), "bind", "ro"]),
  },
  {
    flag: "--proc", arg: "TARGET", key: "proc", repeatable: true, group: "run",
    help: "Mount proc on TARGET (nosuid,nodev,noexec).",
    set: (s, v, f) => void s.extraMounts.push([null, nonEmpty(f, v), "proc", "nosuid,nodev,noexec"]),
  },
  {
    flag: "--tmpfs", arg: "TARGET", key: "tmpfs", repeatable: true, group: "run",
    help: "Mount a tmpfs on TARGET (nosuid,nodev).",
    set: (s, v, f) => void s.extraMounts.push([null, nonEmpty(f, v), "tmpfs", "nosuid,nodev"]),
  },
  {
    flag: "--dev", arg: "TARGET", key: "dev", repeatable: true, group: "run",
    help: "A minimal /dev on TARGET: null, zero, full, random, urandom, tty, pts, shm, fd, std*.",
    set: (s, v, f) => void s.extraMounts.push([null, nonEmpty(f, v), "dev", ""]),
  },
  {
    flag: null, key: "filesystem_writable_paths", python: "filesystem_writable_paths", group: "run", default: "all",
    help: 'What the command may write: "all", "none" or a list of paths (config only; an empty list is none).',
    json: (s, v) => {
      if (v === "all" || v === "none") {
        s.readOnly = v === "none";
        s.writable = [];
      } else if (Array.isArray(v)) {
        s.writable = v.map((p, i) => str(`filesystem_writable_paths[${i}]`, p));
        // As in the Python library and this project's library API: nothing
        // listed is nothing writable, never everything.
        if (s.writable.length === 0) s.readOnly = true;
      } else throw at("filesystem_writable_paths", 'expected "all", "none" or a list of paths');
    },
  },
  {
    flag: "--writable", arg: "PATH", key: "writable", repeatable: true, group: "run",
    help: "Add to filesystem_writable_paths; everything else becomes read-only. PATH must exist in the root (a typo is an error, not a new directory).",
    set: (s, v, f) => void s.writable.push(nonEmpty(f, v)),
  },
  {
    flag: "--writable-create", arg: "PATH", key: "writable-create", repeatable: true, group: "run",
    help: "As --writable, creating PATH (and its missing parents) in the root where it does not exist; it stays after the run.",
    set: (s, v, f) => {
      s.writable.push(nonEmpty(f, v));
      s.writableCreate.push(v);
    },
  },
  {
    flag: "--read-only", key: "read-only", group: "run",
    help: "filesystem_writable_paths = none.",
    set: (s) => void (s.readOnly = true),
  },
  {
    flag: "--network", arg: "undefined|isolated", key: "network", python: "network", group: "run", default: "undefined",
    help: "isolated: a network namespace with only a loopback device.",
    set: (s, v, f) => void (s.network = choice(f, v, NAMESPACE_CHOICES)),
    json: namespaceJson,
  },
  {
    flag: "--mounts", arg: "undefined|isolated", key: "mounts", python: "mounts", group: "run", default: "undefined",
    help: "isolated: the sandbox's mounts are its own.",
    set: (s, v, f) => void (s.mounts = choice(f, v, NAMESPACE_CHOICES)),
    json: namespaceJson,
  },
  {
    flag: "--hostname", arg: "NAME", key: "hostname", group: "run", default: "sandbox",
    help: "The hostname inside (linux backend).",
    set: (s, v, f) => void (s.hostname = nonEmpty(f, v)),
  },
  {
    flag: "--image-ref", arg: "REF", key: "image-ref", group: "run",
    help: "The image to use when an OCI index holds several.",
    set: (s, v, f) => void (s.imageRef = nonEmpty(f, v)),
  },
  {
    flag: "--keep-root", arg: "DIR", key: "keep-root", group: "run",
    help: "Unpack an image or tarball into DIR and keep it for reuse.",
    set: (s, v, f) => void (s.keepRoot = nonEmpty(f, v)),
  },
  {
    flag: "--degrade", key: "degrade", group: "run",
    help: "Downgrade settings the backend cannot honour, with a warning.",
    set: (s) => void (s.degrade = true),
  },
  {
    flag: "--stdout", arg: "FILE", key: "stdout", python: "stdout", group: "run", default: "sandboxlib's stdout",
    help: 'Write the command\'s stdout to FILE. Config: null, "inherit", "capture" or {"file": PATH}.',
    set: (s, v, f) => void (s.stdout = { kind: "file", path: nonEmpty(f, v) }),
    json: (s, v) => void (s.stdout = output("stdout", v, false)),
  },
  {
    flag: "--stderr", arg: "FILE|stdout", key: "stderr", python: "stderr", group: "run", default: "sandboxlib's stderr",
    help: 'Write stderr to FILE, or merge it into stdout. Config: as stdout, or "stdout".',
    set: (s, v, f) => void (s.stderr = v === "stdout" ? { kind: "stdout" } : { kind: "file", path: nonEmpty(f, v) }),
    json: (s, v) => void (s.stderr = output("stderr", v, true)),
  },
  {
    flag: "--stdin", arg: "FILE|null", key: "stdin", group: "run", default: "sandboxlib's stdin",
    help: "The command's stdin.",
    set: (s, v, f) => void (s.stdinFile = nonEmpty(f, v)),
  },
  {
    flag: "--json", key: "json", group: "run",
    help: 'Capture both streams; print one JSON object {"exit_code", "signal", "stdout", "stderr", ...}.',
    set: (s) => void (s.json = true),
  },
  {
    flag: "--status-fd", arg: "N", key: "status-fd", group: "run",
    help: 'Write JSON lines to fd N: {"child_pid"} at start, then the result (as --json, without the output).',
    set: (s, v, f) => void (s.statusFd = integer(f, v, 1, "a file descriptor number, 1 or above")),
  },
  {
    flag: "--timeout", arg: "SECONDS", key: "timeout", group: "control",
    help: "SIGTERM at the deadline, exit status 124 (fractions allowed, up to 2^31 days).",
    set: (s, v, f) => void (s.timeout = seconds(f, v)),
  },
  {
    flag: "--kill-after", arg: "SECONDS", key: "kill-after", group: "control", default: "5",
    help: "Then SIGKILL if still running.",
    set: (s, v, f) => void (s.killAfter = seconds(f, v)),
  },
  {
    flag: "--pass-fd", arg: "N", key: "pass-fd", repeatable: true, group: "control",
    help: "Keep fd N, inherited from the caller, open in the command.",
    set: (s, v, f) => void s.passFds.push(integer(f, v, 3, "a file descriptor number, 3 or above")),
  },
  {
    flag: "--jobserver", key: "jobserver", group: "control",
    help: "Pass on the caller's make jobserver that MAKEFLAGS names (--jobserver-auth=R,W: those descriptors; fifo:PATH: the fifo, bound writable at its path) and keep MAKEFLAGS, even with --clear-env; one that cannot be passed is a warning, and the command runs without it.",
    set: (s) => void (s.jobserver = true),
  },
  {
    flag: "--share-session", key: "share-session", group: "control",
    help: "Keep the caller's session (no setsid), for interactive use.",
    set: (s) => void (s.shareSession = true),
  },
  {
    flag: "--cap-add", arg: "NAME", key: "cap-add", repeatable: true, group: "control",
    help: "Keep a capability beyond Docker's default set.",
    set: (s, v, f) => void s.capAdd.push(asUsage(f, v, () => capabilityName(v))),
  },
  {
    flag: "--cap-drop", arg: "NAME|ALL", key: "cap-drop", repeatable: true, group: "control",
    help: "Drop one, or all.",
    set: (s, v, f) => void s.capDrop.push(v.toUpperCase() === "ALL" ? "ALL" : asUsage(f, v, () => capabilityName(v))),
  },
  {
    flag: "--uid", arg: "N", key: "uid", group: "control",
    help: "Run as this user; supplementary groups cleared.",
    set: (s, v, f) => void (s.uid = integer(f, v, 0, "a user number")),
  },
  {
    flag: "--gid", arg: "N", key: "gid", group: "control", default: "--uid",
    help: "Run as this group.",
    set: (s, v, f) => void (s.gid = integer(f, v, 0, "a group number")),
  },
  {
    flag: "--seccomp", arg: "on|off", key: "seccomp", group: "control", default: "on",
    help: "The default seccomp filter (true or false in a config file).",
    set: (s, v, f) => void (s.seccomp = choice(f, v, ["on", "off"] as const) === "on"),
  },
  {
    flag: "--rlimit", arg: "NAME=SOFT[:HARD]", key: "rlimit", repeatable: true, group: "control",
    help: "setrlimit: nofile, nproc, as, cpu, fsize, core, stack, ... (numbers or 'unlimited').",
    set: (s, v, f) => {
      const [name, soft, hard] = rlimitSpec(f, v);
      s.rlimits[name] = [soft, hard];
    },
  },
  {
    flag: "--memory", arg: "BYTES", key: "memory", group: "control",
    help: "cgroup memory limit, no swap (k, M, G suffixes; at least 6M).",
    set: (s, v, f) => void (s.memory = asUsage(f, v, () => parseBytes(v, f))),
  },
  {
    flag: "--pids", arg: "N", key: "pids", group: "control",
    help: "cgroup limit on the command's processes and threads (at least 2).",
    set: (s, v, f) => void (s.pids = integer(f, v, 1, "a positive number of processes")),
  },
  {
    flag: "--cpus", arg: "FLOAT", key: "cpus", group: "control",
    help: "cgroup CPU limit (1.5 = one and a half CPUs).",
    set: (s, v, f) => void (s.cpus = positiveNumber(f, v, "a positive number of CPUs")),
  },
];

/** The option a flag names (`--root`), if any. */
export const BY_FLAG: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.filter((o) => o.flag !== null).map((o) => [o.flag!, o]));
/** The option a config key names (`filesystem_root`, `timeout`), if any. */
export const BY_KEY: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.filter((o) => o.key !== null).map((o) => [o.key!, o]));

/** Whether an option takes no value. */
export const isFlag = (o: OptionSpec) => o.arg === undefined;

// ---- Help and README text.

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The options of a `run --help` group, aligned and wrapped to 78 columns. */
/** Flags the parser handles itself, about the request rather than the sandbox (parse.ts). */
export const REQUEST_FLAGS: readonly string[] = ["--config", "--print-plan"];

export function helpLines(group: OptionSpec["group"]): string {
  const INDENT = 30;
  const out: string[] = [];
  for (const o of OPTIONS) {
    if (o.group !== group || o.flag === null) continue;
    const head = `  ${o.flag}${o.arg ? ` ${o.arg}` : ""}`;
    const text = `${o.help}${o.repeatable ? " Repeatable." : ""}${o.default ? ` Default: ${o.default}.` : ""}`;
    const body = wrap(text, 78 - INDENT);
    if (head.length < INDENT - 1) out.push(head.padEnd(INDENT) + body[0]);
    else out.push(head, " ".repeat(INDENT) + body[0]);
    for (const line of body.slice(1)) out.push(" ".repeat(INDENT) + line);
  }
  return out.join("\n");
}

/** The README's option table (Markdown), between its markers. */
export function markdownTable(): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  const code = (s: string | null | undefined) => (s ? `\`${cell(s)}\`` : "");
  const rows = OPTIONS.map((o) => {
    const flag = o.flag ? code(`${o.flag}${o.arg ? ` ${o.arg}` : ""}`) : "";
    return `| ${flag} | ${code(o.key)} | ${code(o.python)} | ${o.default ? cell(o.default) : ""} | ${cell(o.help)}${o.repeatable ? " Repeatable." : ""} |`;
  });
  return ["| Option | Config key | Python | Default | Meaning |", "|---|---|---|---|---|", ...rows].join("\n");
}
