// Attack: what sandboxlib says and does with hostile input (issue 13 item
// 10, contract C10): values with newlines forging extra lines of output, NUL
// bytes silently cutting a config's strings (a cwd or mount option other
// than the one checked), "internal error" for plain I/O failures, an
// undocumented exit status with stderr full, and BUN_OPTIONS=--preload
// running foreign code inside a root tool.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AttackSetting, attackSetting, BACKENDS, runRaw } from "../helpers/attack.ts";
import { BIN } from "../helpers/cli.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/messages.test.ts");

let setting: AttackSetting;
beforeAll(() => {
  if (isRoot) setting = attackSetting("msg");
});
afterAll(() => setting?.dispose());

/** Config fields with a NUL byte planted in one of their strings, and the name the message must give. */
const NUL_CASES: [string, Record<string, unknown>, RegExp][] = [
  ["command", { command: ["/bin/tr\u0000ue"] }, /command/],
  ["command argument", { command: ["/bin/echo", "a\u0000b"] }, /command/],
  ["cwd", { cwd: "/tmp\u0000/../etc" }, /cwd/],
  ["env value", { env: { PATH: "/bin", A: "b\u0000c" } }, /env/],
  ["env name", { env: { PATH: "/bin", "A\u0000B": "c" } }, /env/],
  ["mount source", { extra_mounts: [["/tmp\u0000x", "/t", "bind", ""]] }, /extra_mounts/],
  ["mount target", { extra_mounts: [[null, "/t\u0000x", "tmpfs", ""]] }, /extra_mounts/],
  ["mount type", { extra_mounts: [[null, "/t", "tmp\u0000fs", ""]] }, /extra_mounts/],
  ["mount options", { extra_mounts: [[null, "/t", "tmpfs", "size=1m\u0000,mode=777"]] }, /extra_mounts/],
  ["filesystem_root", { filesystem_root: "/\u0000x" }, /filesystem.root/],
];

for (const backend of BACKENDS) {
  const args = (...rest: string[]) => ["run", "--backend", backend, "--root", setting.root, ...rest];

  describe.skipIf(!isRoot)(`${backend}: messages and hostile strings (C10)`, () => {
    test("an option value with a newline gives one line, the value JSON-escaped", async () => {
      for (const option of ["--timeout", "--memory", "--pids", "--cap-add", "--rlimit", "--mount", "--seccomp", "--network", "--uid"]) {
        const r = await runRaw(args(option, "1\n2", "true"));
        expect({ option, code: r.code }).toEqual({ option, code: 125 });
        expect(r.stderr).toMatch(/^sandboxlib: [^\n]*\n$/);
        expect(r.stderr).toContain('"1\\n2"');
      }
    });

    for (const [what, fields, names] of NUL_CASES) {
      test(`a NUL byte in a config's ${what} is exit 125 naming the field`, async () => {
        const config = { command: ["/bin/true"], filesystem_root: setting.root, backend, ...fields };
        const r = await runRaw(["run", "--config", "-"], { stdin: JSON.stringify(config) });
        expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 125, stdout: "" });
        expect(r.stderr).toMatch(/^sandboxlib: [^\n]*\n$/);
        expect(r.stderr).toMatch(names);
      });
    }

    test("a NUL byte in a batch line's strings fails that line (setup_failed, naming the field), not the batch", async () => {
      const lines = NUL_CASES.map(([, fields]) => JSON.stringify({ command: ["/bin/true"], filesystem_root: setting.root, backend, ...fields }));
      const r = await runRaw(["batch", "-"], { stdin: `${lines.join("\n")}\n` });
      expect(r.code).toBe(0);
      const results = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(results.map((x) => [x.line, x.setup_failed, x.exit_code])).toEqual(NUL_CASES.map((_, i) => [i + 1, true, 125]));
      results.forEach((x, i) => expect(x.error).toMatch(NUL_CASES[i]![2]));
    });

    test("--json with stdout on a full device: exit 125, one line, no internal error", async () => {
      const full = openSync("/dev/full", "w");
      try {
        const r = await runRaw(args("--json", "true"), { stdoutFd: full });
        expect(r.code).toBe(125);
        expect(r.stderr).toMatch(/^sandboxlib: [^\n]*\n$/);
        expect(r.stderr).not.toContain("internal error");
      } finally {
        closeSync(full);
      }
    });

    test("--status-fd on a descriptor open only for reading: exit 125, one line, no internal error", async () => {
      const file = join(setting.scratch, "status-ro");
      writeFileSync(file, "");
      const readOnly = openSync(file, "r");
      try {
        const r = await runRaw(args("--status-fd", "3", "true"), { fds: [readOnly] });
        expect(r.code).toBe(125);
        expect(r.stderr).toMatch(/^sandboxlib: [^\n]*\n$/);
        expect(r.stderr).not.toContain("internal error");
      } finally {
        closeSync(readOnly);
      }
    });
  });
}

describe.skipIf(!isRoot)("the executable (C10)", () => {
  test("with stderr full, a usage error still exits 125", async () => {
    const full = openSync("/dev/full", "w");
    try {
      const proc = Bun.spawn([BIN, "run", "--timeout", "never", "true"], { stdio: ["ignore", "ignore", full] });
      expect(await proc.exited).toBe(125);
    } finally {
      closeSync(full);
    }
  });

  test("BUN_OPTIONS=--preload does not run foreign code in sandboxlib", async () => {
    const marker = join(setting.scratch, "preloaded");
    const preload = join(setting.scratch, "preload.js");
    writeFileSync(preload, `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`);
    const env = { BUN_OPTIONS: `--preload ${preload}` };
    const version = await runRaw(["--version"], { env });
    const run = await runRaw(["run", "--root", setting.root, "true"], { env });
    // Bun reads BUN_OPTIONS before any of sandboxlib's code; the executable is
    // built to refuse a preload then (exit 1, Bun's message): it never runs.
    expect(existsSync(marker)).toBe(false);
    expect([version.code === 0, run.code === 0]).toEqual([false, false]);
    // Any other BUN_OPTIONS: sandboxlib's own one-line refusal.
    const other = await runRaw(["--version"], { env: { BUN_OPTIONS: "--smol" } });
    expect(other.code).toBe(125);
    expect(other.stderr).toMatch(/^sandboxlib: [^\n]*BUN_OPTIONS[^\n]*\n$/);
  });
});
