// A fuzz of sandboxlib's inputs: command lines, config files and batch lines,
// random and mutated from valid-ish grammars (mount specs, rlimits, numbers
// with units, unicode, newlines, NUL bytes in JSON, huge numbers, empty
// strings). Every run must end with a documented status; a 125 with exactly
// one line `sandboxlib: ...`; never an internal error, a stack trace or a
// crash; and nothing may be left behind. A NUL byte planted in one string of
// an otherwise valid config or batch line must fail it (125) naming the field.
//
// Host paths the fuzz hands to sandboxlib (roots, bind sources, output
// files, state) are always inside its scratch directory: a fuzzed value is
// never a host path outside it.
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chance, CRASH, describeLeftovers, int, isClean, isDocumentedStatus, isOneLine, type Leftovers, makeRig, pick, type Rand, type Rig, runPrng, type SessionOptions, type SessionReport } from "./rig.ts";

export type FuzzOptions = SessionOptions;

/** `outcomes` groups how cases ended: "argv -> exit 125", ... */
export interface FuzzReport extends SessionReport {
  cases: number;
}

const WEIRD = [
  "", " ", "0", "-1", "1", "00", "1.5", ".5", "1e3", "1e309", "Infinity", "NaN", "0x10", "1_000",
  "99999999999999999999999", "18446744073709551616", "9007199254740993", "2147483648", "4294967296", "-0",
  "64M", "1.5G", "16k", "512", "1T", "1e3k", "k", "M", "unlimited", "ALL", "all", "none", "-", "--", "=", ":",
  "::", ":::", "a:b:c:d:e", "é", "日本語", "\u202e", "😀", "a\nb", "\n", "\r\n", "\t", " 1", "1 ", "/", "//", "/..",
  "../..", ".", "/proc/self/fd/3", "$HOME", "%s%s%n", "\\", "'", "\"", "{}", "[]", "x".repeat(5000), "/a".repeat(600),
];
const CAPS = ["CHOWN", "KILL", "SYS_ADMIN", "NET_ADMIN", "MKNOD", "SYS_PTRACE", "SYS_CHROOT", "cap_net_raw", "CAP_SETUID", "BOGUS", "ALL"];
const RLIMITS = ["nofile", "nproc", "as", "cpu", "fsize", "core", "stack", "memlock", "data", "bogus"];
const TARGETS = ["/t", "/tmp", "/data/1", "/fuzz/a/b", "/", "..", "/../..", "relative", "/proc", "/dev", "/bin/sh", "/etc/passwd", "/fuzz/é", "/fuzz/a\nb"];
const TYPES = ["tmpfs", "proc", "sysfs", "bind", "rbind", "mqueue", "devpts", "dev", "devtmpfs", "tmpfsx", "é", "none"];
const MOUNT_OPTIONS = ["", "ro", "rw", "nosuid", "nodev", "noexec", "dev", "suid", "exec", "size=1m", "size=0", "size=999999999999", "mode=777",
  "mode=99999", "uid=0", "nr_inodes=1", "bind", "rbind", "remount", "move", "shared", "relatime", "sync", "x-junk", "a=b=c", ",", "defaults"];
const FLAGS = ["--clear-env", "--read-only", "--degrade", "--json", "--share-session"];

/** A string derived from a weird value that is safe as a file name inside the scratch directory. */
const safeName = (v: string) => `f-${v.replace(/[/\0]/g, "_").replace(/^\.+$/, "_").slice(0, 100)}`;

interface Ctx {
  rig: Rig;
  files: string;
}

function mutate(r: Rand, v: string): string {
  switch (int(r, 0, 6)) {
    case 0: return pick(r, WEIRD);
    case 1: return v + pick(r, WEIRD);
    case 2: return pick(r, WEIRD) + v;
    case 3: return v.slice(0, int(r, 0, v.length));
    case 4: return v.replace(/\d+/, pick(r, ["0", "99999999999999999999", "-5", "1.5"]));
    case 5: return `${v}${v}`;
    default: return v;
  }
}

/** A host path: one of the rig's, or a name inside the scratch directory. */
function hostPath(r: Rand, c: Ctx): string {
  return pick(r, [c.rig.bindSource, join(c.rig.bindSource, "file"), join(c.files, safeName(pick(r, WEIRD))), join(c.rig.scratch, "missing")]);
}

/** A root: a busybox root, the tarball, or something that is not a root, all inside the scratch directories. */
function rootValue(r: Rand, c: Ctx): string {
  if (chance(r, 0.85)) return pick(r, [c.rig.roots.shared, c.rig.roots.other]);
  return pick(r, [c.rig.tarball, join(c.rig.scratch, "missing-root"), join(c.rig.bindSource, "file")]);
}

const target = (r: Rand) => (chance(r, 0.8) ? pick(r, TARGETS) : mutate(r, pick(r, TARGETS)));
const mountOptions = (r: Rand) => Array.from({ length: int(r, 0, 3) }, () => pick(r, MOUNT_OPTIONS)).join(",");

/** A value for a command-line option, valid-ish or mutated. */
function optionValue(r: Rand, c: Ctx, name: string): string {
  const valid = (): string => {
    switch (name) {
      case "--timeout":
      case "--kill-after": return pick(r, ["0.1", "1", "30", "3000000", "1000000000", "999999999999999999999"]);
      case "--memory": return pick(r, ["64M", "1G", "512", "4096", "16k", "100000000", "8M"]);
      case "--pids": return pick(r, ["1", "10", "64", "1000000"]);
      case "--cpus": return pick(r, ["0.5", "1", "2", "0.001", "64"]);
      case "--rlimit": return `${pick(r, RLIMITS)}=${pick(r, ["0", "1", "64", "unlimited", "1024:2048", "9:3", "18446744073709551615"])}`;
      case "--cap-add":
      case "--cap-drop": return pick(r, CAPS);
      case "--uid":
      case "--gid": return pick(r, ["0", "1000", "65534", "4294967295", "4294967296"]);
      case "--env": return `${pick(r, ["A", "PATH", "LD_PRELOAD", "é", "A B"])}=${pick(r, WEIRD)}`;
      case "--cwd": return pick(r, ["/", "/tmp", "/nonexistent", "relative", "/bin/sh", "/proc/self/fd/3", "/data/1"]);
      case "--mount": {
        const source = pick(r, ["", "none", hostPath(r, c), "x"]);
        return [source, target(r), pick(r, TYPES), ...(chance(r, 0.6) ? [mountOptions(r)] : [])].join(":");
      }
      case "--bind":
      case "--ro-bind": return `${hostPath(r, c)}:${target(r)}`;
      case "--tmpfs":
      case "--proc":
      case "--dev":
      case "--writable": return target(r);
      case "--network":
      case "--mounts": return pick(r, ["undefined", "isolated"]);
      case "--hostname": return pick(r, ["h", "a".repeat(64), "a".repeat(65), "é"]);
      case "--seccomp": return pick(r, ["on", "off"]);
      case "--stdout": return join(c.files, safeName(pick(r, WEIRD)));
      case "--stderr": return chance(r, 0.5) ? "stdout" : join(c.files, safeName(pick(r, WEIRD)));
      case "--stdin": return pick(r, ["null", join(c.rig.bindSource, "file"), join(c.rig.scratch, "missing")]);
      case "--status-fd": return pick(r, ["1", "3", "0", "999"]); // (2 would mix status lines into the messages checked)
      case "--pass-fd": return pick(r, ["0", "1", "2", "3", "4", "10", "999"]);
      case "--backend": return pick(r, ["linux", "chroot", "bogus"]);
      case "--image-ref": return pick(r, WEIRD);
      case "--keep-root": return join(c.files, safeName(`keep-${pick(r, WEIRD)}`));
      default: return pick(r, WEIRD);
    }
  };
  const v = valid();
  // Host paths stay as generated; other values may be mutated, but a mount's
  // source is then put back inside the scratch directory.
  if (["--stdout", "--stderr", "--stdin", "--keep-root"].includes(name) || chance(r, 0.8)) return v;
  const mutated = mutate(r, v);
  return ["--mount", "--bind", "--ro-bind"].includes(name) ? confineSource(mutated, c) : mutated;
}

/** A mount spec whose source (before the first ':') is outside the scratch directory gets the source "none". */
function confineSource(spec: string, c: Ctx): string {
  const i = spec.indexOf(":");
  const source = i < 0 ? spec : spec.slice(0, i);
  if (source === "" || source === "none") return spec;
  const full = resolve(c.rig.scratch, source);
  return full.startsWith(`${c.rig.scratch}/`) ? spec : `none${i < 0 ? "" : spec.slice(i)}`;
}

const VALUE_NAMES = ["--timeout", "--kill-after", "--memory", "--pids", "--cpus", "--rlimit", "--cap-add", "--cap-drop", "--uid", "--gid", "--env",
  "--cwd", "--mount", "--bind", "--ro-bind", "--tmpfs", "--proc", "--dev", "--writable", "--network", "--mounts", "--hostname", "--seccomp",
  "--stdout", "--stderr", "--stdin", "--status-fd", "--pass-fd", "--backend", "--image-ref", "--keep-root"];

const COMMANDS: [string[], number][] = [[["/bin/true"], 0], [["/bin/sh", "-c", "exit 3"], 3], [["/bin/echo", "x"], 0], [["/etc/passwd"], 126], [["no-such-command"], 127], [["/bin"], 126]];

/**
 * A config object: valid-ish keys and values (filesystem_root always a safe
 * path). A `valid` one can run (as a config file, or as a batch line).
 */
function configObject(r: Rand, c: Ctx, valid: boolean, forBatch: boolean): Record<string, unknown> {
  const [command] = pick(r, COMMANDS);
  const obj: Record<string, unknown> = { command: [...command], filesystem_root: rootValue(r, c), backend: pick(r, ["linux", "chroot"]) };
  if (valid) obj.filesystem_root = pick(r, [c.rig.roots.shared, c.rig.roots.other]);
  const keys: [string, () => unknown][] = [
    ["cwd", () => pick(r, ["/", "/tmp", "/data/1"])],
    ["env", () => ({ PATH: "/bin", A: pick(r, ["1", "é", "a b"]) })],
    ["extra_mounts", () => [[null, "/t", "tmpfs", "size=1m"], [c.rig.bindSource, "/data/1", "bind", "ro"]]],
    ["filesystem_writable_paths", () => pick(r, ["all", "none", ["/tmp"]])],
    ["network", () => pick(r, ["undefined", "isolated"])],
    ["stdout", () => pick(r, [null, "capture", { file: join(c.files, "out") }])],
    ["stderr", () => pick(r, [null, "stdout", "capture"])],
    ["timeout", () => pick(r, [30, "1.5", 3000000])],
    ["memory", () => pick(r, ["64M", 100000000])],
    ["pids", () => pick(r, [64, "128"])],
    ["tmpfs", () => pick(r, ["/tmp", ["/tmp", "/fuzz/x"]])],
    ["proc", () => "/proc"],
    ["dev", () => "/dev"],
    ["cap-drop", () => pick(r, [["NET_RAW"], "ALL"])],
    ["rlimit", () => pick(r, ["nofile=64", ["core=0", "nproc=100"]])],
  ];
  for (const [key, value] of keys) if (chance(r, 0.3)) obj[key] = value();
  if (valid) {
    // Captured streams need --json (a config file run has none), and batch captures: no files there.
    if (obj.stdout === "capture" && !forBatch) obj.stdout = null;
    if (obj.stderr === "capture" && !forBatch) obj.stderr = null;
    if (typeof obj.stdout === "object" && obj.stdout !== null && forBatch) obj.stdout = "capture";
    if (obj.backend === "chroot") delete obj.filesystem_writable_paths;
    if (obj.backend === "chroot") delete obj.network;
    return obj;
  }
  const junk = (): unknown => pick(r, [null, true, 0, -1, 1e308, 1.5, "", "x", [], {}, [null], { a: 1 }, pick(r, WEIRD), Array(3).fill(pick(r, WEIRD))]);
  for (const key of Object.keys(obj)) if (key !== "filesystem_root" && chance(r, 0.25)) obj[key] = junk();
  if (chance(r, 0.1)) obj[pick(r, ["bogus", "root", "status-fd", "pass-fd", "hostname", "keep-root", "é"])] = junk();
  if (typeof obj.filesystem_root !== "string") obj.filesystem_root = c.rig.roots.shared;
  return obj;
}

/** Every string of a JSON value, with a path to set it. */
function strings(value: unknown, key: string | null, out: { key: string; set: (s: string) => void; get: () => string }[]): void {
  if (Array.isArray(value)) value.forEach((v, i) => (typeof v === "string" ? out.push({ key: key!, get: () => value[i], set: (s) => (value[i] = s) }) : strings(v, key, out)));
  else if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const top = key ?? k;
      if (typeof o[k] === "string") out.push({ key: top, get: () => o[k] as string, set: (s) => (o[k] = s) });
      else strings(o[k], top, out);
      // A name of the environment is a string of the config too.
      if (top === "env" && key === "env") out.push({ key: top, get: () => k, set: (s) => ((o[s] = o[k]), delete o[k]) });
    }
  }
}

/** Plants one NUL byte in one string of the config; returns the top-level key it went into. */
function plantNul(r: Rand, obj: Record<string, unknown>): string | null {
  const found: Parameters<typeof strings>[2] = [];
  strings(obj, null, found);
  const victims = found.filter((f) => f.key !== "backend");
  if (!victims.length) return null;
  const v = pick(r, victims);
  const s = v.get();
  const at = int(r, 0, s.length);
  v.set(`${s.slice(0, at)}\u0000${s.slice(at)}`);
  return v.key;
}

/** A message names `key` if it says it with _, - or a space between its words. */
const names = (message: string, key: string) => new RegExp(key.replace(/[-_]/g, "[-_ ]")).test(message);

/** Every exit status a command of its own may give. */
const ANY_STATUS = Array.from({ length: 256 }, (_, i) => i);

/** The command of a config's text, as JSON, or null when the text has none (or does not parse: sandboxlib refuses it). */
function commandOf(text: string): string | null {
  try {
    const command = (JSON.parse(text) as { command?: unknown } | null)?.command;
    return command === undefined ? null : JSON.stringify(command);
  } catch {
    return null;
  }
}

type Case =
  | { index: number; kind: "argv"; argv: string[]; stdin: string | null; expected: number[] }
  | { index: number; kind: "config"; argv: string[]; stdin: string | null; expected: number[]; nulIn: string | null }
  | { index: number; kind: "batch"; argv: string[]; stdin: string; lines: number; nulIn: (string | null)[] };

export function planFuzzCase(rig: Rig, files: string, seed: number, index: number): Case {
  const r = runPrng(seed, index);
  const c: Ctx = { rig, files };
  const roll = r();
  if (roll < 0.6) {
    // A command line.
    if (chance(r, 0.05)) {
      const argv = pick(r, [["batch", "--jobs", pick(r, WEIRD), join(rig.scratch, "missing")], ["capabilities", "--backend", pick(r, WEIRD)], [pick(r, WEIRD)], ["--version"], ["run"], ["run", "--"]]);
      return { index, kind: "argv", argv, stdin: null, expected: [0] };
    }
    const argv = ["run", "--root", rootValue(r, c)];
    for (let i = int(r, 0, 6); i > 0; i--) {
      if (chance(r, 0.15)) argv.push(pick(r, FLAGS));
      else {
        const name = pick(r, VALUE_NAMES);
        argv.push(name, optionValue(r, c, name));
      }
    }
    if (chance(r, 0.03)) argv.push(pick(r, ["--bogus", "-x", "--timeout"])); // unknown, or a value missing at the end
    const [command, code] = pick(r, COMMANDS);
    if (chance(r, 0.9)) argv.push("--", ...command);
    return { index, kind: "argv", argv, stdin: null, expected: [code, 0, 3] };
  }
  if (roll < 0.85) {
    const mode = pick(r, ["nul", "valid", "junk"] as const);
    const withNul = mode === "nul";
    const obj = configObject(r, c, mode !== "junk", false);
    const nulIn = withNul ? plantNul(r, obj) : null;
    const text = chance(r, 0.1) ? mutate(r, JSON.stringify(obj)) : JSON.stringify(obj);
    const viaStdin = chance(r, 0.5);
    const file = join(files, `config-${index}.json`);
    if (!viaStdin) writeFileSync(file, text);
    // A mutated text that still parses may run another command ("exit 3"
    // made "exit -5": sh refuses the number, exit 2): its status is its own.
    const command = commandOf(text);
    const expected = command === null || command === JSON.stringify(obj.command) ? [0, 3] : ANY_STATUS;
    return { index, kind: "config", argv: ["run", "--config", viaStdin ? "-" : file], stdin: viaStdin ? text : null, expected, nulIn: text === JSON.stringify(obj) ? nulIn : null };
  }
  const lines: string[] = [];
  const nulIn: (string | null)[] = [];
  for (let i = int(r, 1, 6); i > 0; i--) {
    if (chance(r, 0.15)) {
      lines.push(pick(r, ["", "{", "[]", "null", "1", "\"x\"", "{\"id\":[]}", "{}", "x".repeat(3000), "\u0000"]));
      nulIn.push(null);
      continue;
    }
    const mode = pick(r, ["nul", "valid", "junk"] as const);
    const withNul = mode === "nul";
    const obj = configObject(r, c, mode !== "junk", true);
    if (chance(r, 0.3)) obj.id = pick(r, [1, "a", "é", 1.5]);
    const key = withNul ? plantNul(r, obj) : null;
    lines.push(JSON.stringify(obj));
    nulIn.push(key);
  }
  return { index, kind: "batch", argv: ["batch", "--jobs", String(int(r, 1, 3)), "-"], stdin: `${lines.join("\n")}\n`, lines: lines.length, nulIn };
}

async function execute(rig: Rig, k: Case): Promise<{ outcome: string; problem: string | null }> {
  const proc = rig.spawn(k.argv, { stdin: k.stdin === null ? "ignore" : "pipe" });
  if (k.stdin !== null) {
    const sink = proc.stdin as unknown as { write(s: string): void; end(): void };
    sink.write(k.stdin);
    sink.end();
  }
  let hung = false;
  const guard = setTimeout(() => ((hung = true), proc.kill("SIGKILL")), 20_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(guard);
  const code = proc.signalCode ? null : proc.exitCode;
  const outcome = `${k.kind} -> ${code === null ? `killed by ${String(proc.signalCode)}` : `exit ${code}`}`;
  const problem = ((): string | null => {
    if (hung) return "did not exit within 20 s";
    if (code === null) return `sandboxlib died of ${String(proc.signalCode)}`;
    if (CRASH.test(stderr)) return "an internal error or crash on stderr";
    if (k.kind === "batch") {
      if (code !== 0) return `batch exited ${code}`;
      if (stderr.split("\n").some((l) => l !== "" && !l.startsWith("sandboxlib: "))) return "batch wrote something other than its own lines on stderr";
      const out = stdout.split("\n").filter(Boolean);
      if (out.length !== k.lines) return `batch wrote ${out.length} results for ${k.lines} lines`;
      for (const [i, l] of out.entries()) {
        const x = JSON.parse(l) as { line: number; exit_code: number; setup_failed: boolean; error?: string };
        if (x.line !== i + 1) return "batch results out of order";
        if (!isDocumentedStatus(x.exit_code, [0, 3])) return `line ${x.line}: undocumented exit_code ${x.exit_code}`;
        if (x.error !== undefined && (CRASH.test(x.error) || x.error.includes("\n"))) return `line ${x.line}: error ${JSON.stringify(x.error)}`;
        const nul = k.nulIn[i];
        if (nul && !(x.setup_failed && x.exit_code === 125 && names(x.error ?? "", nul))) return `line ${x.line}: a NUL byte in ${nul} did not fail the line naming it: ${JSON.stringify(x.error ?? x.exit_code)}`;
      }
      return null;
    }
    if (!isDocumentedStatus(code, k.expected)) return `undocumented exit status ${code}`;
    if (code === 125 && !isOneLine(stderr)) return "exit 125 without exactly one line 'sandboxlib: ...' on stderr (after any warnings)";
    if (k.kind === "config" && k.nulIn && !(code === 125 && names(stderr, k.nulIn))) return `a NUL byte in ${k.nulIn} did not fail the run naming it (exit ${code})`;
    return null;
  })();
  return { outcome, problem: problem && `${problem}; stderr: ${JSON.stringify(stderr.slice(0, 300))}` };
}

export async function fuzz(o: FuzzOptions): Promise<FuzzReport> {
  const log = o.log ?? (() => {});
  const rig = makeRig("fuzz");
  const files = rig.files;
  const outcomes: Record<string, number> = {};
  const problems: string[] = [];
  let cases = 0;
  try {
    const started = Date.now();
    let next = 0;
    const take = (): number | null => {
      if (o.only !== undefined) return next++ === 0 ? o.only : null;
      if (next >= o.count || Date.now() - started > o.seconds * 1000) return null;
      return next++;
    };
    const worker = async () => {
      for (let i = take(); i !== null; i = take()) {
        const k = planFuzzCase(rig, files, o.seed, i);
        const { outcome, problem } = await execute(rig, k);
        cases++;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (problem) {
          const stdin = k.stdin === null ? "" : `\n  stdin: ${JSON.stringify(k.stdin).slice(0, 2000)}`;
          const line = `case ${i} (seed ${o.seed}): ${problem}\n  sandboxlib ${k.argv.map((a) => JSON.stringify(a)).join(" ")}${stdin}`;
          problems.push(line);
          log(line);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
    // Nothing was killed from outside: whatever is left, sandboxlib left.
    const left = await rig.inventory({ sweep: false });
    if (!isClean(left)) log(`left behind:\n${describeLeftovers(left)}`);
    return { seed: o.seed, cases, outcomes, problems, leftovers: left, clean: isClean(left) };
  } finally {
    rig.dispose();
  }
}
