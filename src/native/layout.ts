// The records TypeScript and the native helper share, defined once. Each
// field's offset is computed here (natural alignment, as the C compiler lays
// out a struct); build.ts generates the C structs from these tables
// (cHeader(), with a _Static_assert per field), and encode.ts / spawn.ts /
// spawner-wakeups.ts read their offsets from here, through offsets.ts.
// test/unit/layout.test.ts compiles a program printing offsetof/sizeof of
// every field and compares.

/** i32/i64/u64: integers; the rest are 64-bit pointers (strings, arrays of strings or int32, raw bytes). */
export type FieldType = "i32" | "i64" | "u64" | "str" | "strv" | "i32s" | "bytes" | "mem" | "steps";

const C_TYPES: Record<FieldType, string> = {
  i32: "int32_t",
  i64: "int64_t",
  u64: "uint64_t",
  str: "const char *",
  strv: "char *const *",
  i32s: "const int32_t *",
  bytes: "const void *",
  mem: "char *",
  steps: "struct sbx_step *",
};

const SIZES: Record<FieldType, number> = { i32: 4, i64: 8, u64: 8, str: 8, strv: 8, i32s: 8, bytes: 8, mem: 8, steps: 8 };

export interface Field {
  name: string;
  type: FieldType;
  offset: number;
  doc: string;
}

export interface Layout<N extends string = string> {
  /** The C struct's name (struct <cName>); an op's name for an op's arguments. */
  cName: string;
  fields: readonly Field[];
  /** Each field's byte offset, by name. */
  at: Record<N, number>;
  size: number;
}

type FieldSpec<N extends string> = readonly [name: N, type: FieldType, doc?: string];

/** Lays `fields` out as a C compiler does (each at a multiple of its size), starting at `start`. */
function layout<N extends string>(cName: string, fields: readonly FieldSpec<N>[], start = 0): Layout<N> {
  let offset = start;
  let align = 1;
  const out: Field[] = [];
  const at = {} as Record<N, number>;
  for (let i = 0; i < fields.length; i++) {
    const spec = fields[i]!;
    const size = SIZES[spec[1]];
    offset = Math.ceil(offset / size) * size;
    out.push({ name: spec[0], type: spec[1], offset, doc: spec[2] ?? "" });
    at[spec[0]] = offset;
    offset += size;
    if (size > align) align = size;
  }
  return { cName, fields: out, at, size: Math.ceil(offset / align) * align };
}

/** struct sbx_spawn: one sandbox's spawn, shared with the cloned processes until they exec. */
export const SPAWN = layout("sbx_spawn", [
  ["clone_flags", "i64", "in: namespaces etc. (CLONE_VM is added)"],
  ["steps", "steps", "in: the plan"],
  ["nsteps", "i64", "in"],
  ["keep_fds", "i32s", "in: descriptors from 3 up the sandbox process keeps until its steps run (ascending)"],
  ["nkeep_fds", "i64", "in"],
  ["init_fd", "i64", "in: sandboxlib-init (init.c), an fd it can be exec'd from"],
  ["bounding_set", "u64", "in, for sbx_spawn_async: capabilities the spawner thread may narrow its bounding set to"],
  ["setup_fail_status", "i32", "in: the exit status of a sandbox whose setup step failed"],
  ["exec_fail_status", "i32", "in: the exit status of a command that could not be exec'd"],
  ["undumpable", "i32", "in: 1 to make the sandbox process non-dumpable while it shares sandboxlib's memory"],
  ["async_pending", "i32", "internal: nonzero while a spawner thread has the spawn (sbx_spawn_async)"],
  ["fail_step", "i64", "out: failing step index, -1 when none"],
  ["fail_errno", "i64", "out"],
  ["cmd_status", "i64", "out: wait status of the command (from sandboxlib-init's record), -1 until known"],
  ["cmd_pid", "i64", "out: the command process's pid (in its own PID namespace): it ran the command's steps, and leads its session when it made one"],
  ["exec_pid", "i64", "out: the command's own process, started by the launcher (init.c), 0 when none"],
  ["ru_utime_us", "i64", "out: rusage of the command (from sandboxlib-init's record)"],
  ["ru_stime_us", "i64", "out"],
  ["ru_maxrss_kb", "i64", "out"],
  ["status_rfd", "i64", "out: where sandboxlib-init writes the command's status"],
  ["async_result", "i64", "out: what sbx_spawn returned, for sbx_spawn_async"],
  ["stack", "mem", "internal"],
  ["stack_size", "i64", "internal"],
  ["sandbox_tid", "i32", "internal: nonzero until the sandbox process execs or exits"],
  ["cmd_tid", "i32", "internal: the same for the command process"],
  ["cmd_start", "i64", "internal: first step run by the command process"],
  ["parent_pidfd", "i64", "internal: pidfd of the caller, -1 when unsupported"],
  ["status_wfd", "i64", "internal"],
  ["go_rfd", "i64", "internal: the command waits for EOF here (init exec'd)"],
  ["go_wfd", "i64", "internal"],
  ["launch_rfd", "i64", "internal: the launcher's messages (init.c): the command's pid, a failure's -errno"],
  ["launch_wfd", "i64", "internal"],
  ["handover_rfd", "i64", "internal: the launcher tells the init the command's pid here"],
  ["handover_wfd", "i64", "internal"],
  ["release_rfd", "i64", "internal: the command waits for EOF here before its exec (its launcher reaped)"],
  ["release_wfd", "i64", "internal"],
]);

/**
 * The launcher's arguments (sandboxlib-init run as sandboxlib-exec, init.c),
 * by position; the command's own argv follows them in the same array, so
 * that the launcher passes it on as it is. encode.ts writes the names and the
 * command's part; the command process fills in the descriptors and statuses.
 */
export const LAUNCH_ARGS = ["name", "launch_fd", "handover_fd", "release_fd", "setup_fail_status", "exec_fail_status", "file", "has_search_path", "search_path"] as const;
/** argv[0] of the launcher: how sandboxlib-init knows it is one. */
export const LAUNCHER_NAME = "sandboxlib-exec";

/** Bits of a step's `flags`. */
export const STEP_FLAGS = {
  /** mount: the target is a path in the root. */
  IN_ROOT: 1,
  /** mount: the source is a path in the root. */
  SOURCE_IN_ROOT: 2,
  /** mount, setattr: skipped when its path in the root does not exist. */
  OPTIONAL: 4,
} as const;

/** The operations, their codes and their arguments (laid out after the record's header). */
const OP_SPECS = {
  mount: [1, [["mount_flags", "u64"], ["source", "str"], ["target", "str"], ["fstype", "str"], ["data", "str"]]],
  mkdirs: [2, [["mode", "i64"], ["file", "i64", "1: the last component is a file"], ["path", "str", "in root"]]],
  chroot: [4, [["path", "str"]]],
  chdir: [5, [["path", "str"]]],
  "pivot-root": [6, [["move_fallback", "i64"], ["path", "str", "the new root (absolute)"]]],
  sethostname: [7, [["name", "str"]]],
  dup2: [8, [["from", "i64"], ["to", "i64"]]],
  "close-from": [9, [["first", "i64"], ["nkeep", "i64"], ["keep", "i32s", "ascending"]]],
  setsid: [10, []],
  exec: [
    11,
    [
      ["file", "str"],
      ["argv", "strv"],
      ["envp", "strv"],
      ["search_path", "str"],
      ["launch_argv", "strv", "the launcher's arguments (LAUNCH_ARGS) then argv: argv points into it"],
      ["after_launcher", "i64", "1: the command execs only once the init has reaped its launcher (a --pids limit counts it)"],
    ],
  ],
  setattr: [12, [["attr_set", "u64"], ["attr_clr", "u64"], ["recursive", "i64"], ["path", "str", "in root"]]],
  "open-root": [13, [["path", "str"]]],
  "fork-command": [14, []],
  rmdirs: [15, [["count", "i64", "trailing components to remove"], ["file", "i64"], ["path", "str", "in root"]]],
  symlink: [16, [["target", "str", "the link's text"], ["path", "str", "in root"]]],
  mknod: [17, [["mode", "i64"], ["dev", "u64"], ["path", "str", "in root"]]],
  "loopback-up": [18, []],
  "open-fd": [19, [["flags", "i64"], ["mode", "i64"], ["fd", "i64", "target number, -1: any (out = fd)"], ["path", "str", "host path"]]],
  "close-root": [21, []],
  "no-new-privs": [22, []],
  capabilities: [23, [["keep", "u64"], ["set_effective", "i64"], ["pivot_step", "i64", "1 + the pivot-root step's index, 0: none"]]],
  "set-ids": [24, [["uid", "i64"], ["gid", "i64"]]],
  seccomp: [25, [["len", "i64", "instruction count"], ["filter", "bytes", "struct sock_filter[]"]]],
  rlimit: [26, [["resource", "i64"], ["soft", "u64"], ["hard", "u64"]]],
  "write-fd": [28, [["opened_by", "i64", "index of the open-fd step"], ["text", "str"]]],
  exit: [29, [["status", "i64"]]],
  "private-root": [40, []],
} as const satisfies Record<string, readonly [number, readonly FieldSpec<string>[]]>;

export type OpName = keyof typeof OP_SPECS;

/** The header of struct sbx_step; the arguments of each op follow it (a union). */
const STEP_HEAD = layout("sbx_step", [
  ["op", "i32"],
  ["flags", "i32", "STEP_FLAGS"],
  ["out", "i64", "what the step leaves for the caller or later steps"],
]);

const ARGS_AT = STEP_HEAD.size;

type ArgNames<O extends OpName> = (typeof OP_SPECS)[O][1][number][0];

/** Each op's code and argument layout (offsets within the whole step record). */
export const OPS = {} as { [O in OpName]: { code: number; args: Layout<ArgNames<O>> } };
/** Each op's argument offsets alone, and its code (encode.ts). */
export const OP_ARGS = {} as { [O in OpName]: Record<ArgNames<O>, number> };
export const OP_CODES = {} as Record<OpName, number>;
let stepSize: number = STEP_HEAD.size;
for (const name in OP_SPECS) {
  const op = name as OpName;
  const spec = OP_SPECS[op];
  const args = layout(op, spec[1] as readonly FieldSpec<string>[], ARGS_AT);
  (OPS as Record<string, unknown>)[op] = { code: spec[0], args };
  (OP_ARGS as Record<string, unknown>)[op] = args.at;
  OP_CODES[op] = spec[0];
  if (args.size > stepSize) stepSize = args.size;
}

/** The step record: its header, then the largest op's arguments. */
export const STEP: Layout<"op" | "flags" | "out"> = { cName: STEP_HEAD.cName, fields: STEP_HEAD.fields, at: STEP_HEAD.at, size: stepSize };

const cIdent = (op: string) => op.replace(/-/g, "_");

function cFields(fields: readonly Field[], indent: string): string {
  return fields.map((f) => `${indent}${C_TYPES[f.type]}${C_TYPES[f.type].endsWith("*") ? "" : " "}${f.name};${f.doc ? ` /* ${f.doc} */` : ""}\n`).join("");
}

/** The C header for these records (build.ts writes it next to the sources it compiles). */
export function cHeader(): string {
  let h = "/* Generated from src/native/layout.ts by build.ts: do not edit. */\n#pragma once\n#include <stddef.h>\n#include <stdint.h>\n\n";
  h += `struct ${SPAWN.cName} {\n${cFields(SPAWN.fields, "  ")}};\n\n`;
  for (const [name, { code }] of Object.entries(OPS)) h += `#define OP_${cIdent(name).toUpperCase()} ${code}\n`;
  for (const [name, bit] of Object.entries(STEP_FLAGS)) h += `#define STEP_${name} ${bit}\n`;
  LAUNCH_ARGS.forEach((name, i) => (h += `#define LAUNCH_ARG_${name.toUpperCase()} ${i}\n`));
  h += `#define LAUNCH_ARGC ${LAUNCH_ARGS.length}\n#define LAUNCHER_NAME "${LAUNCHER_NAME}"\n`;
  h += `\nstruct sbx_step {\n${cFields(STEP_HEAD.fields, "  ")}  union {\n`;
  for (const [name, { args }] of Object.entries(OPS)) {
    if (args.fields.length) h += `    struct {\n${cFields(args.fields, "      ")}    } ${cIdent(name)};\n`;
  }
  h += "  };\n};\n\n";
  const check = (struct: string, member: string, offset: number) => `_Static_assert(offsetof(struct ${struct}, ${member}) == ${offset}, "${struct}.${member}");\n`;
  for (const f of SPAWN.fields) h += check(SPAWN.cName, f.name, f.offset);
  h += `_Static_assert(sizeof(struct ${SPAWN.cName}) == ${SPAWN.size}, "sizeof ${SPAWN.cName}");\n`;
  for (const f of STEP_HEAD.fields) h += check("sbx_step", f.name, f.offset);
  for (const [name, { args }] of Object.entries(OPS)) for (const f of args.fields) h += check("sbx_step", `${cIdent(name)}.${f.name}`, f.offset);
  h += `_Static_assert(sizeof(struct sbx_step) == ${STEP.size}, "sizeof sbx_step");\n`;
  return h;
}

/** Every field as C names it ("sbx_step", "mount.source") with its TypeScript offset and size, for the layout test. */
export function allFields(): { struct: string; member: string; offset: number; size: number }[] {
  const rows = SPAWN.fields.map((f) => ({ struct: SPAWN.cName, member: f.name, offset: f.offset, size: SIZES[f.type] }));
  for (const f of STEP_HEAD.fields) rows.push({ struct: "sbx_step", member: f.name, offset: f.offset, size: SIZES[f.type] });
  for (const [name, { args }] of Object.entries(OPS)) for (const f of args.fields) rows.push({ struct: "sbx_step", member: `${cIdent(name)}.${f.name}`, offset: f.offset, size: SIZES[f.type] });
  return rows;
}

/** The offsets the runtime reads (spawn.ts, encode.ts, spawner-wakeups.ts): computed here, or put in by build.ts (offsets.ts). */
export function runtimeOffsets() {
  return { spawn: SPAWN.at, spawnSize: SPAWN.size, step: STEP.at, stepSize: STEP.size, args: OP_ARGS, codes: OP_CODES, flags: STEP_FLAGS, launcher: { name: LAUNCHER_NAME, argc: LAUNCH_ARGS.length } };
}

export type RuntimeOffsets = ReturnType<typeof runtimeOffsets>;
