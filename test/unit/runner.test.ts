// The runner's pure parts: paths, config, the plan of an action, the codec,
// statuses. No root, no server (test/runner/ drives the executable).
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listenSocket, parseCommandLine } from "../../src/cli/parse.ts";
import { actionEnvironment, planAction, readOnlyUnlessRw, type RunRequestMessage } from "../../src/runner/action.ts";
import { decodeMessage, encodeMessage } from "../../src/runner/codec.ts";
import { DEFAULT_RUNNER_CONFIG, parseRunnerConfig, runnerConfigFrom } from "../../src/runner/config.ts";
import { BadRequest, inside, isWithin, relativeParts } from "../../src/runner/paths.ts";
import { packUsage, protoRoot, serviceDefinition } from "../../src/runner/proto.ts";
import { signalName, statusOf } from "../../src/runner/server.ts";
import { isStale } from "../../src/runner/sweep.ts";
import { SandboxError } from "../../src/base/errors.ts";

describe("runner paths", () => {
  test("relative paths only, no '..', no NUL; '' and '.' only where allowed", () => {
    expect(relativeParts("f", "a/./b//c", false)).toEqual(["a", "b", "c"]);
    expect(relativeParts("f", "", true)).toEqual([]);
    expect(() => relativeParts("stdout_path", "/etc/passwd", false)).toThrow('stdout_path: must be relative, not absolute: "/etc/passwd"');
    expect(() => relativeParts("f", "a/../../b", false)).toThrow('f: must not contain "..": "a/../../b"');
    expect(() => relativeParts("f", "a\0b", false)).toThrow("NUL");
    expect(() => relativeParts("f", ".", false)).toThrow("must not be empty");
  });

  test("isWithin compares whole components", () => {
    expect(isWithin("/b", "/b")).toBe(true);
    expect(isWithin("/b", "/b/x")).toBe(true);
    expect(isWithin("/b", "/bx")).toBe(false);
    expect(isWithin("/", "/x")).toBe(true);
  });

  test("a symlink that leads out is refused; one that stays in is followed", () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "sandboxlib-paths-")));
    try {
      mkdirSync(join(dir, "in/real"), { recursive: true });
      symlinkSync("/etc", join(dir, "in/out"));
      symlinkSync("real", join(dir, "in/ok"));
      const base = join(dir, "in");
      expect(inside(base, "f", "ok/new-file")).toBe(join(base, "real/new-file"));
      expect(inside(base, "f", "missing/deeper")).toBe(join(base, "missing/deeper"));
      expect(() => inside(base, "stdout_path", "out/passwd")).toThrow(BadRequest);
      expect(() => inside(base, "stdout_path", "out/passwd")).toThrow('stdout_path: leads outside the build directory (through a symbolic link): "out/passwd"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("runner config", () => {
  test("defaults: the input root as root, isolated network, /proc and /dev", () => {
    expect(runnerConfigFrom({})).toEqual(DEFAULT_RUNNER_CONFIG);
    expect(parseRunnerConfig('{"root": "/srv/base", "memory": 104857600, "pids": 100, "cpus": 1.5, "set_tmpdir": true}')).toMatchObject({ root: "/srv/base", memory: 104857600, pids: 100, cpus: 1.5, setTmpdir: true });
  });

  test("each bad key is named", () => {
    const bad: [unknown, string][] = [
      ["not json", "invalid JSON"],
      [[], "expected a JSON object"],
      [{ rooot: "/" }, 'unknown key "rooot"'],
      [{ root: "relative" }, "root: expected an absolute path"],
      [{ network: "open" }, 'network: expected "isolated" or "host"'],
      [{ memory: 1000 }, "memory: 1000 bytes is below the minimum"],
      [{ pids: 1.5 }, "pids: expected a positive integer"],
      [{ set_tmpdir: "yes" }, "set_tmpdir: expected true or false"],
      [{ environment: { "A=B": "x" } }, 'environment: invalid variable name "A=B"'],
      [{ extra_mounts: [["/x"]] }, "extra_mounts:"],
      [{ root: "/base", input_root_mount: "/tmp" }, "must differ"],
    ];
    for (const [value, message] of bad) {
      expect(() => (typeof value === "string" ? parseRunnerConfig(value) : runnerConfigFrom(value))).toThrow(message);
    }
  });
});

describe("runner actions", () => {
  const request = (over: Partial<RunRequestMessage> = {}): RunRequestMessage => ({
    arguments: ["cc", "-c", "x.c"],
    environment_variables: { PATH: "/bin" },
    working_directory: "src",
    stdout_path: "1/stdout",
    stderr_path: "1/stderr",
    input_root_directory: "1/root",
    temporary_directory: "1/tmp",
    server_logs_directory: "1/server_logs",
    ...over,
  });

  const withBuildDir = (f: (build: string) => void) => {
    const build = realpathSync(mkdtempSync(join(tmpdir(), "sandboxlib-build-")));
    try {
      for (const d of ["1/root/src", "1/tmp", "1/server_logs"]) mkdirSync(join(build, d), { recursive: true });
      f(build);
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  };

  test("the input root as the root: writable root and /tmp, cwd inside", () =>
    withBuildDir((build) => {
      const plan = planAction(DEFAULT_RUNNER_CONFIG, build, request());
      expect(plan.root).toBe(join(build, "1/root"));
      expect(plan.cwd).toBe("/src");
      expect(plan.writable).toEqual(["/", "/tmp"]);
      expect(plan.extraMounts[0]).toEqual([join(build, "1/tmp"), "/tmp", "bind", ""]);
      expect(plan.stdoutPath).toBe(join(build, "1/stdout"));
      expect(plan.env).toEqual({ PATH: "/bin" });
    }));

  test("a base root: the input root bound at input_root_mount", () =>
    withBuildDir((build) => {
      const config = runnerConfigFrom({ root: "/srv/base", input_root_mount: "/work", set_tmpdir: true, proc: false, dev: false });
      const plan = planAction(config, build, request({ working_directory: "" }));
      expect(plan.root).toBe("/srv/base");
      expect(plan.cwd).toBe("/work");
      expect(plan.writable).toEqual(["/work", "/tmp"]);
      expect(plan.extraMounts).toEqual([
        [join(build, "1/root"), "/work", "bind", ""],
        [join(build, "1/tmp"), "/tmp", "bind", ""],
      ]);
      expect(plan.env.TMPDIR).toBe("/tmp");
    }));

  test("bad requests name the field and the value", () =>
    withBuildDir((build) => {
      const refused: [Partial<RunRequestMessage>, string][] = [
        [{ arguments: [] }, "arguments: empty"],
        [{ arguments: [""] }, "arguments[0]"],
        [{ environment_variables: { "": "x" } }, "environment_variables: invalid name"],
        [{ input_root_directory: "" }, "input_root_directory: must not be empty"],
        [{ input_root_directory: "2/root" }, 'input_root_directory: no such directory in the build directory: "2/root"'],
        [{ working_directory: "nope" }, 'working_directory: no such directory in the build directory: "nope"'],
        [{ working_directory: "/src" }, "working_directory: must be relative"],
        [{ stdout_path: "../x" }, 'stdout_path: must not contain "..": "../x"'],
        [{ stderr_path: "1/stdout" }, "stderr_path: the same file as stdout_path"],
        [{ temporary_directory: "1/none" }, "temporary_directory: no such directory"],
      ];
      for (const [over, message] of refused) expect(() => planAction(DEFAULT_RUNNER_CONFIG, build, request(over))).toThrow(message);
    }));

  test("the config's mounts are read-only unless they say rw", () => {
    expect(readOnlyUnlessRw("")).toBe("ro");
    expect(readOnlyUnlessRw("nosuid")).toBe("nosuid,ro");
    expect(readOnlyUnlessRw("rw,nosuid")).toBe("rw,nosuid");
    expect(readOnlyUnlessRw("ro")).toBe("ro");
  });

  test("the environment: the config's, the request's over it, TMPDIR when configured", () => {
    const config = runnerConfigFrom({ environment: { A: "config", B: "config" }, set_tmpdir: true, tmp_mount: "/scratch" });
    expect(actionEnvironment(config, { B: "request" }, true)).toEqual({ A: "config", B: "request", TMPDIR: "/scratch" });
    expect(actionEnvironment(config, {}, false)).toEqual({ A: "config", B: "config" });
  });
});

describe("runner codec", () => {
  const root = protoRoot();
  const run = root.lookupType("buildbarn.runner.RunRequest");

  test("a RunRequest round-trips; absent fields are proto3 defaults", () => {
    const value = { arguments: ["a", "b é"], environment_variables: { X: "1", Y: "" }, working_directory: "w" };
    expect(decodeMessage(run, encodeMessage(run, value))).toEqual({
      ...value,
      stdout_path: "",
      stderr_path: "",
      input_root_directory: "",
      temporary_directory: "",
      server_logs_directory: "",
    });
  });

  test("the wire bytes are protobuf's (checked against a hand-encoded message)", () => {
    // arguments = ["ls"], working_directory = "d", environment_variables = {A: "b"}
    const bytes = Uint8Array.from([0x0a, 2, 0x6c, 0x73, 0x12, 6, 0x0a, 1, 0x41, 0x12, 1, 0x62, 0x1a, 1, 0x64]);
    expect(encodeMessage(run, { arguments: ["ls"], environment_variables: { A: "b" }, working_directory: "d" })).toEqual(bytes);
    expect(decodeMessage(run, bytes)).toMatchObject({ arguments: ["ls"], environment_variables: { A: "b" }, working_directory: "d" });
  });

  test("malformed bytes throw (grpc-js answers INTERNAL), unknown fields are skipped", () => {
    expect(() => decodeMessage(run, Uint8Array.from([0xff, 0xff, 0xff]))).toThrow();
    expect(() => decodeMessage(run, Uint8Array.from([0x0a, 5, 0x61]))).toThrow();
    expect(() => decodeMessage(run, Uint8Array.from([0x08, 1]))).toThrow("wire type");
    expect(decodeMessage(run, Uint8Array.from([0xf8, 0x01, 7]))).toMatchObject({ arguments: [] });
  });

  test("POSIXResourceUsage in an Any, and the RunResponse around it", () => {
    const usage = packUsage(root, { userMs: 1500.25, sysMs: 2, maxRssBytes: 3 * 2 ** 40, terminationSignal: "KILL" });
    expect(usage.type_url).toBe("type.googleapis.com/buildbarn.resourceusage.POSIXResourceUsage");
    const decoded = decodeMessage(root.lookupType("buildbarn.resourceusage.POSIXResourceUsage"), usage.value);
    expect(decoded).toMatchObject({ user_time: { seconds: 1, nanos: 500250000 }, system_time: { seconds: 0, nanos: 2000000 }, maximum_resident_set_size: 3 * 2 ** 40, termination_signal: "KILL", page_faults: 0 });
    const def = serviceDefinition(root, "buildbarn.runner.Runner") as unknown as Record<string, { path: string; responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>;
    expect(def.Run!.path).toBe("/buildbarn.runner.Runner/Run");
    expect(def.CheckReadiness!.path).toBe("/buildbarn.runner.Runner/CheckReadiness");
    expect(def.Run!.responseDeserialize(def.Run!.responseSerialize({ exit_code: -1, resource_usage: [usage] }))).toEqual({ exit_code: -1, resource_usage: [{ type_url: usage.type_url, value: usage.value }] });
  });
});

describe("runner statuses and names", () => {
  test("statuses: the request's fault is INVALID_ARGUMENT, ours INTERNAL", () => {
    expect(statusOf(new BadRequest("x")).code).toBe(3);
    expect(statusOf(new SandboxError("not-found", "command not found: cc")).code).toBe(3);
    expect(statusOf(new SandboxError("not-executable", "cannot execute")).code).toBe(3);
    expect(statusOf(new SandboxError("setup", "cannot mount")).code).toBe(13);
    expect(statusOf(new Error("boom"))).toEqual({ code: 13, message: "boom" });
  });

  test("signal names without SIG", () => {
    expect(signalName(null)).toBe("");
    expect(signalName(9)).toBe("KILL");
    expect(signalName(11)).toBe("SEGV");
    expect(signalName(35)).toBe("RTMIN+1");
  });

  test("--listen takes unix:PATH and unix:///PATH", () => {
    expect(listenSocket("unix:/worker/runner")).toBe("/worker/runner");
    expect(listenSocket("unix:///worker/runner")).toBe("/worker/runner");
    expect(listenSocket("unix:rel/sock")).toBe("rel/sock");
    expect(() => listenSocket("tcp://localhost:1")).toThrow("--listen");
    expect(() => listenSocket("unix:")).toThrow("--listen");
  });

  test("sandboxlib runner's command line", () => {
    expect(parseCommandLine(["runner", "--listen", "unix:///w/r", "--build-directory=/w/b", "--config", "c.json"])).toEqual({ kind: "runner", socket: "/w/r", buildDirectory: "/w/b", configFile: "c.json" });
    expect(parseCommandLine(["runner", "--help"])).toEqual({ kind: "help", topic: "runner" });
    expect(() => parseCommandLine(["runner", "--build-directory", "/b"])).toThrow("--listen unix:PATH is required");
    expect(() => parseCommandLine(["runner", "--listen", "unix:/s"])).toThrow("--build-directory DIR is required");
    expect(() => parseCommandLine(["runner", "--listen", "unix:/s", "--build-directory", "/b", "--jobs", "2"])).toThrow("unknown option: --jobs");
    expect(() => parseCommandLine(["runner", "--listen"])).toThrow("option needs a value: --listen");
  });

  test("stale cgroups: <pid>-<n> of a dead pid", () => {
    const alive = (pid: number) => pid === 1;
    expect(isStale("42-3", alive)).toBe(true);
    expect(isStale("1-3", alive)).toBe(false);
    expect(isStale("cgroup.procs", alive)).toBe(false);
  });
});
