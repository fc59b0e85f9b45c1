import { describe, expect, test } from "bun:test";
import { normalizeCommand, toSandboxConfig } from "../../src/config/options.ts";
import { CAPTURE, STDOUT } from "../../src/config/types.ts";

describe("toSandboxConfig", () => {
  test("Python's defaults", () => {
    const c = toSandboxConfig(["true"]);
    expect(c).toMatchObject({
      cwd: null,
      env: null,
      filesystemRoot: "/",
      filesystemWritablePaths: "all",
      mounts: "undefined",
      extraMounts: [],
      network: "undefined",
    });
    expect(c.stdout).toBe(CAPTURE);
    expect(c.stderr).toBe(CAPTURE);
  });

  test("a string command is a one-element argv", () => {
    expect(normalizeCommand("ls -l")).toEqual(["ls -l"]);
    expect(() => normalizeCommand([])).toThrow("empty command");
  });

  test("stdout and stderr targets", () => {
    expect(toSandboxConfig("x", { stdout: null, stderr: STDOUT }).stderr).toBe(STDOUT);
    expect(toSandboxConfig("x", { stdout: 5 }).stdout).toBe(5);
    expect(() => toSandboxConfig("x", { stdout: STDOUT as never })).toThrow("invalid stdout");
    expect(() => toSandboxConfig("x", { stderr: "file.txt" as never })).toThrow("invalid stderr");
  });

  test("bad settings are named", () => {
    expect(() => toSandboxConfig("x", { network: "none" as never })).toThrow('invalid network: "none"');
    expect(() => toSandboxConfig("x", { filesystemWritablePaths: "some" as never })).toThrow("invalid filesystem_writable_paths");
    expect(() => toSandboxConfig("x", { env: { "A=B": "1" } })).toThrow("invalid environment variable name");
    expect(() => toSandboxConfig("x", { hostname: "bad host" })).toThrow("invalid hostname");
    expect(() => toSandboxConfig(["a\0b"])).toThrow("NUL byte");
  });
});
