// A NUL byte in a path or mount field would be cut there by the kernel
// (issue 13, item 10): the library refuses it and says where.
import { describe, expect, test } from "bun:test";
import { toSandboxConfig } from "../../src/config/options.ts";

describe("library options with a NUL byte", () => {
  test("are refused, naming the option", () => {
    expect(() => toSandboxConfig(["true"], { cwd: "/src\0/x" })).toThrow('invalid cwd: contains a NUL byte: "/src\\u0000/x"');
    expect(() => toSandboxConfig(["true"], { filesystemRoot: "/r\0" })).toThrow("invalid filesystem_root: contains a NUL byte");
    expect(() => toSandboxConfig(["true"], { filesystemWritablePaths: ["/a", "/b\0"] })).toThrow("invalid filesystem_writable_paths[1]: contains a NUL byte");
    expect(() => toSandboxConfig(["true"], { extraMounts: [[null, "/tmp", "tmpfs", "size=1m\0"]] })).toThrow("invalid extra_mounts[0][3]: contains a NUL byte");
    expect(() => toSandboxConfig(["true"], { extraMounts: [["/s\0", "/x", "bind"]] })).toThrow("invalid extra_mounts[0][0]: contains a NUL byte");
    expect(() => toSandboxConfig(["true"], { env: { A: "1\0" } })).toThrow("invalid value of environment variable A");
  });

  test("plain strings pass", () => {
    expect(toSandboxConfig(["true"], { cwd: "/src", extraMounts: [[null, "/tmp", "tmpfs"]] }).cwd).toBe("/src");
  });
});
