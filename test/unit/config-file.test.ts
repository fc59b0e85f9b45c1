import { describe, expect, test } from "bun:test";
import { findNul, member, parseConfigText, settingsFromConfig } from "../../src/cli/config-file.ts";
import { parseCommandLine, type RunRequest, settingsFor } from "../../src/cli/parse.ts";
import { toSandboxOptions } from "../../src/cli/sandbox-options.ts";
import { toSandboxConfig } from "../../src/config/options.ts";

describe("config files: the Python parameter names", () => {
  test("every parameter", () => {
    const s = settingsFromConfig({
      command: ["make", "-j2"],
      cwd: "/src",
      env: { PATH: "/bin", HOME: "/src" },
      filesystem_root: "/srv/root",
      filesystem_writable_paths: ["/src", "/tmp"],
      mounts: "isolated",
      extra_mounts: [[null, "/proc", "proc"], ["/host/src", "/src", "bind", "ro"]],
      network: "isolated",
      stdout: { file: "/tmp/out.log" },
      stderr: "stdout",
    });
    expect(s).toMatchObject({
      command: ["make", "-j2"],
      cwd: "/src",
      clearEnv: true,
      env: [["PATH", "/bin"], ["HOME", "/src"]],
      root: "/srv/root",
      writable: ["/src", "/tmp"],
      mounts: "isolated",
      extraMounts: [[null, "/proc", "proc"], ["/host/src", "/src", "bind", "ro"]],
      network: "isolated",
      stdout: { kind: "file", path: "/tmp/out.log" },
      stderr: { kind: "stdout" },
    });
  });

  test("a string command is one argument; writable none/all", () => {
    expect(settingsFromConfig({ command: "ls -l" }).command).toEqual(["ls -l"]);
    expect(settingsFromConfig({ filesystem_writable_paths: "none" }).readOnly).toBe(true);
  });

  test("an empty filesystem_writable_paths is read-only everywhere, as in the library API (issue 17)", () => {
    const writable = (value: unknown) => toSandboxConfig(["true"], toSandboxOptions(settingsFromConfig(value), [], "batch")).filesystemWritablePaths;
    expect(writable({ filesystem_writable_paths: [] })).toBe("none");
    expect(toSandboxConfig(["true"], { filesystemWritablePaths: [] }).filesystemWritablePaths).toEqual([]);
    expect(writable({ filesystem_writable_paths: "none" })).toBe("none");
    expect(writable({ filesystem_writable_paths: "all" })).toBe("all");
    expect(writable({})).toBe("all");
    expect(writable({ filesystem_writable_paths: ["/tmp"] })).toEqual(["/tmp"]);
    // A --writable given after the config still adds to nothing, not to everything.
    const req = parseCommandLine(["run", "--writable", "/build", "true"]) as RunRequest;
    expect(toSandboxOptions(settingsFor(req, settingsFromConfig({ filesystem_writable_paths: [] })), [], "batch").filesystemWritablePaths).toEqual(["/build"]);
  });

  test("this project's options under their command-line names", () => {
    const s = settingsFromConfig({
      timeout: 1.5, "kill-after": 2, "cap-add": ["NET_ADMIN"], "cap-drop": "ALL", uid: 1000, seccomp: false,
      rlimit: ["nofile=64", "core=0"], memory: "64M", pids: 100, cpus: 0.5, hostname: "b1", degrade: true,
      tmpfs: ["/tmp"], "read-only": true,
    });
    expect(s).toMatchObject({
      timeout: 1.5, killAfter: 2, capAdd: ["NET_ADMIN"], capDrop: ["ALL"], uid: 1000, seccomp: false,
      rlimits: { nofile: ["64", "64"], core: ["0", "0"] }, memory: 64 * 1024 * 1024, pids: 100, cpus: 0.5,
      hostname: "b1", degrade: true, readOnly: true, extraMounts: [[null, "/tmp", "tmpfs", "nosuid,nodev"]],
    });
  });
});

describe("config file errors name the JSON path", () => {
  const fails = (value: unknown, message: string) => expect(() => settingsFromConfig(value)).toThrow(message);

  test("unknown keys, wrong types, bad values", () => {
    fails({ frobnicate: 1 }, "frobnicate: unknown key");
    fails({ root: "/x" }, "root: unknown key"); // the Python name is filesystem_root
    fails({ command: 7 }, "command: expected a string or a non-empty list of strings");
    fails({ command: ["ls", 3] }, "command[1]: expected a string");
    fails({ env: { A: 1 } }, "env.A: expected a string");
    fails({ network: "none" }, 'network: expected "undefined" or "isolated"');
    fails({ filesystem_writable_paths: "some" }, "filesystem_writable_paths: expected");
    fails({ stdout: "somewhere" }, 'stdout: expected null, "inherit", "capture" or {"file": PATH}');
    fails({ timeout: 0 }, "timeout: invalid value for --timeout: 0 (expected a positive number of seconds)");
    fails({ timeout: 1e15 }, "timeout: invalid value for --timeout: 1000000000000000 (expected a positive number of seconds, at most 185542587187200)");
    fails({ "kill-after": 1e300 }, "kill-after: invalid value for --kill-after: 1e+300 (expected a positive number of seconds)");
    fails({ "cap-add": [1] }, "cap-add[0]: invalid value for --cap-add: 1 (unknown capability: 1)");
    fails({ degrade: "yes" }, "degrade: expected true or false");
    fails([1], "expected one JSON object");
  });

  test("extra_mounts entries", () => {
    // One check, the library's validate_extra_mounts, with its (the Python library's) message, located.
    fails({ extra_mounts: [[null, "/a", "tmpfs"], [null, "/b", "tmpfs"], ["proc", "", "proc"]] }, 'extra_mounts[2]: Mount point empty in mount entry ["proc","","proc"]');
    fails({ extra_mounts: [["proc", "/proc"]] }, `extra_mounts[0]: Invalid mount entry in 'extra_mounts': ["proc","/proc"]`);
    fails({ extra_mounts: [[null, "/x", 5]] }, `extra_mounts[0]: Invalid mount entry in 'extra_mounts': [null,"/x",5]`);
    fails({ extra_mounts: "proc" }, "extra_mounts: expected a list");
  });

  test("a NUL byte in any string or name is refused with its JSON path (the kernel would cut the string there)", () => {
    fails({ cwd: "/tmp\u0000/x" }, "cwd: contains a NUL byte");
    fails({ command: ["ls", "a\u0000"] }, "command[1]: contains a NUL byte");
    fails({ command: "ls\u0000" }, "command: contains a NUL byte");
    fails({ env: { A: "1\u0000" } }, "env.A: contains a NUL byte");
    fails({ env: { "A\u0000B": "1" } }, 'env["A\\u0000B"]: the name contains a NUL byte');
    fails({ extra_mounts: [["/src\u0000", "/x", "bind", ""]] }, "extra_mounts[0][0]: contains a NUL byte");
    fails({ extra_mounts: [[null, "/x", "tmpfs", "size=1m\u0000,mode=0"]] }, "extra_mounts[0][3]: contains a NUL byte");
    fails({ filesystem_root: "/r\u0000" }, "filesystem_root: contains a NUL byte");
    fails({ filesystem_writable_paths: ["/a", "/b\u0000"] }, "filesystem_writable_paths[1]: contains a NUL byte");
    fails({ stdout: { file: "/out\u0000" } }, "stdout.file: contains a NUL byte");
    fails({ bind: ["/a:/b\u0000"] }, "bind[0]: contains a NUL byte");
    fails({ frob: { "x y": ["\u0000"] } }, 'frob["x y"][0]: contains a NUL byte');
    expect(findNul({ command: ["ls"], env: { A: "1" }, extra_mounts: [[null, "/x", "tmpfs"]] })).toBeNull();
  });

  test("names that are not plain are shown quoted in paths", () => {
    expect(member("env", "HOME")).toBe("env.HOME");
    expect(member("", "cwd")).toBe("cwd");
    expect(member("env", "A B")).toBe('env["A B"]');
    expect(member("", "a\nb")).toBe('["a\\nb"]');
    fails({ "a\nb": 1 }, '["a\\nb"]: unknown key');
  });

  test("invalid JSON names the file", () => {
    expect(() => parseConfigText("{", "job.json")).toThrow("job.json: invalid JSON");
    expect(() => parseConfigText('{"x": 1}', "job.json")).toThrow("job.json: x: unknown key");
  });
});

describe("the command line overrides the config file", () => {
  test("scalars are replaced, lists extended, the command replaced when given", () => {
    const config = settingsFromConfig({ command: ["make"], cwd: "/a", timeout: 5, tmpfs: ["/tmp"], env: { A: "1" } });
    const req = parseCommandLine(["run", "--cwd", "/b", "--tmpfs", "/var", "--env", "B=2", "make", "test"]) as RunRequest;
    const s = settingsFor(req, config);
    expect(s.cwd).toBe("/b");
    expect(s.timeout).toBe(5);
    expect(s.command).toEqual(["make", "test"]);
    expect(s.extraMounts.map((m) => m[1])).toEqual(["/tmp", "/var"]);
    expect(s.env).toEqual([["A", "1"], ["B", "2"]]);
  });

  test("settings become library options that validate", () => {
    const s = settingsFromConfig({ command: ["true"], env: { A: "1" }, network: "isolated", stdout: null, "cap-drop": ["NET_RAW"] });
    const options = toSandboxOptions(s, [], "run");
    expect(options).toMatchObject({ env: { A: "1" }, network: "isolated", stdout: null, stderr: 2, capDrop: ["NET_RAW"] });
    expect(toSandboxConfig(s.command, options).capabilities).not.toContain("NET_RAW");
  });
});
