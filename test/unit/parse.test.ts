import { describe, expect, test } from "bun:test";
import { parseCommandLine, type RunRequest, settingsFor } from "../../src/cli/parse.ts";
import { checkCommand, checkSettings, parseMountSpec } from "../../src/cli/settings.ts";

const run = (...args: string[]) => {
  const settings = settingsFor(parseCommandLine(["run", ...args]) as RunRequest, null);
  checkSettings(settings);
  checkCommand(settings);
  return settings;
};

describe("sandboxlib run options", () => {
  test("defaults", () => {
    const r = run("true");
    expect(r).toMatchObject({ root: "/", backend: null, cwd: null, env: [], clearEnv: false, extraMounts: [], command: ["true"] });
  });

  test("options stop at -- and at the first non-option", () => {
    expect(run("--root", "/r", "--", "--help", "-x").command).toEqual(["--help", "-x"]);
    expect(run("--root", "/r", "ls", "--root", "x").command).toEqual(["ls", "--root", "x"]);
  });

  test("--opt=value and --opt value are the same", () => {
    expect(run("--root=/r", "true").root).toBe("/r");
    expect(run("--root", "/r", "true").root).toBe("/r");
  });

  test("repeatable options accumulate", () => {
    const r = run("--env", "A=1", "--env", "B=x=y", "--writable", "/a", "--writable", "/b", "true");
    expect(r.env).toEqual([["A", "1"], ["B", "x=y"]]);
    expect(r.writable).toEqual(["/a", "/b"]);
  });

  test("mount shorthands become extra_mounts entries", () => {
    const r = run("--bind", "/src:/work", "--ro-bind", "/etc:/etc", "--proc", "/proc", "--tmpfs", "/tmp", "--dev", "/dev", "true");
    expect(r.extraMounts).toEqual([
      ["/src", "/work", "bind", ""],
      ["/etc", "/etc", "bind", "ro"],
      [null, "/proc", "proc", "nosuid,nodev,noexec"],
      [null, "/tmp", "tmpfs", "nosuid,nodev"],
      [null, "/dev", "dev", ""],
    ]);
  });

  test("--mount SRC:TARGET:TYPE[:OPTIONS]", () => {
    expect(parseMountSpec("none:/proc:proc")).toEqual([null, "/proc", "proc"]);
    expect(parseMountSpec(":/tmp:tmpfs:size=1m,mode=1777")).toEqual([null, "/tmp", "tmpfs", "size=1m,mode=1777"]);
    expect(parseMountSpec("/a:/b:bind:ro")).toEqual(["/a", "/b", "bind", "ro"]);
  });

  test("bad values are usage errors naming the option and value", () => {
    expect(() => run("--mount", "proc", "true")).toThrow("invalid value for --mount: proc");
    expect(() => run("--mount", "x::proc", "true")).toThrow("empty TARGET");
    expect(() => run("--bind", "/a", "true")).toThrow("invalid value for --bind: /a (expected SRC:TARGET)");
    expect(() => run("--network", "none", "true")).toThrow("invalid value for --network: none");
    expect(() => run("--env", "NOEQUALS", "true")).toThrow("invalid value for --env: NOEQUALS");
    expect(() => run("--root", "", "true")).toThrow("empty value for --root");
    expect(() => run("--bogus", "true")).toThrow("unknown option: --bogus");
    expect(() => run("--bogus")).toThrow("unknown option: --bogus");
    expect(() => run("--root")).toThrow("option needs a value: --root");
    expect(() => run("--json=yes", "true")).toThrow("option takes no value: --json");
    expect(() => run()).toThrow("no command given");
    expect(() => run("--json", "--stdout", "f", "true")).toThrow("--json captures both streams");
  });

  test("--timeout and --kill-after: any size up to 2^31 days; beyond, not finite or not a number is an error", () => {
    expect(run("--timeout", "3000000", "--kill-after", "1000000000", "true")).toMatchObject({ timeout: 3_000_000, killAfter: 1e9 });
    expect(run("--timeout", String(2 ** 31 * 86400), "true").timeout).toBe(2 ** 31 * 86400);
    for (const option of ["--timeout", "--kill-after"]) {
      expect(() => run(option, "185542587187201", "true")).toThrow(`invalid value for ${option}: 185542587187201 (expected a positive number of seconds, at most 185542587187200)`);
      expect(() => run(option, "9".repeat(400), "true")).toThrow(`invalid value for ${option}: 999`);
      expect(() => run(option, "1e9", "true")).toThrow(`invalid value for ${option}: 1e9 (expected a positive number of seconds)`);
    }
  });

  test("a value with a newline or other control character is shown JSON-escaped: the message stays one line", () => {
    expect(() => run("--network", "a\nb", "true")).toThrow('invalid value for --network: "a\\nb" (expected undefined or isolated)');
    expect(() => run("--bind", "/a\tb", "true")).toThrow('invalid value for --bind: "/a\\tb" (expected SRC:TARGET)');
    expect(() => run("--env", "X\u2028", "true")).toThrow('invalid value for --env: "X\\u2028" (expected NAME=VALUE)');
    expect(() => run("--cap-add", "A\nB", "true")).toThrow('invalid value for --cap-add: "A\\nB" (');
    expect(() => run("--x\u001b[2J", "true")).toThrow('unknown option: "--x\\u001b[2J"');
    expect(() => parseCommandLine(["batch", "--jobs", "1\n"])).toThrow('invalid value for --jobs: "1\\n"');
    expect(() => parseCommandLine(["frob\nnicate"])).toThrow('unknown command: "frob\\nnicate"');
    // Plain text is shown as it is.
    expect(() => run("--network", "some thing", "true")).toThrow("invalid value for --network: some thing (expected");
  });

  test("usage errors exit 125", () => {
    try {
      run("--bogus", "x");
      throw new Error("no error");
    } catch (e) {
      expect((e as { exitCode: number }).exitCode).toBe(125);
    }
  });
});

describe("other commands", () => {
  test("help and version", () => {
    expect(parseCommandLine([])).toEqual({ kind: "help", topic: "main" });
    expect(parseCommandLine(["--help"])).toEqual({ kind: "help", topic: "main" });
    expect(parseCommandLine(["run", "--help"])).toEqual({ kind: "help", topic: "run" });
    expect(parseCommandLine(["--version"])).toEqual({ kind: "version" });
  });

  test("capabilities with and without --backend", () => {
    expect(parseCommandLine(["capabilities"])).toEqual({ kind: "capabilities", backend: null });
    expect(parseCommandLine(["capabilities", "--backend", "chroot"])).toEqual({ kind: "capabilities", backend: "chroot" });
    expect(() => parseCommandLine(["capabilities", "--x"])).toThrow("unknown option: --x");
  });

  test("an unknown command is named", () => {
    expect(() => parseCommandLine(["frobnicate"])).toThrow("unknown command: frobnicate");
  });

  test("batch takes --jobs and an input", () => {
    expect(parseCommandLine(["batch"])).toEqual({ kind: "batch", jobs: 1, input: "-" });
    expect(parseCommandLine(["batch", "--jobs", "4", "jobs.jsonl"])).toEqual({ kind: "batch", jobs: 4, input: "jobs.jsonl" });
    expect(() => parseCommandLine(["batch", "--jobs", "0"])).toThrow("invalid value for --jobs: 0");
    expect(() => parseCommandLine(["batch", "--frob"])).toThrow("unknown option: --frob");
  });
});
