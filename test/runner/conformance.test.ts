// `sandboxlib runner` against what bb_worker expects of a runner (issue 16),
// through a real gRPC client in Node and the project's .proto files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";
import {
  CANCELLED,
  DEADLINE_EXCEEDED,
  INVALID_ARGUMENT,
  layoutAction,
  NOT_FOUND,
  OK,
  processesWith,
  read,
  type RunningRunner,
  startRunner,
} from "./harness.ts";

requireRootNote("test/runner/conformance.test.ts");
const rootOnly = isRoot ? describe : describe.skip;

let counter = 0;
const nextAction = () => `a${++counter}`;

rootOnly("runner: the input root as the sandbox root", () => {
  let r: RunningRunner;
  beforeAll(async () => {
    r = await startRunner(null);
  });
  afterAll(async () => {
    expect(await r.stop()).toBe(0);
  });

  const run = (paths: Record<string, string>, args: string[], env: Record<string, string> = { PATH: "/bin" }, extra: Record<string, unknown> = {}) =>
    r.call({ method: "Run", request: { arguments: args, environment_variables: env, ...paths, ...extra } });

  test("CheckReadiness: ok for check_readiness, NOT_FOUND for a missing path, INVALID_ARGUMENT for an escape", async () => {
    const [ok, missing, escape] = await r.calls([
      { method: "CheckReadiness", request: { path: "check_readiness" } },
      { method: "CheckReadiness", request: { path: "no_such_file" } },
      { method: "CheckReadiness", request: { path: "../check_readiness" } },
    ]);
    expect(ok!.code).toBe(OK);
    expect(missing!.code).toBe(NOT_FOUND);
    expect(missing!.details).toContain("no_such_file");
    expect(escape!.code).toBe(INVALID_ARGUMENT);
    expect(escape!.details).toContain("path");
  });

  test("exit codes and the stdout/stderr bytes, in the files bb_worker named", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    const res = await run(paths, ["sh", "-c", "printf 'out\\0put'; printf 'err\\n' >&2; exit 42"]);
    expect(res.code).toBe(OK);
    expect(res.response!.exit_code).toBe(42);
    expect(readFileSync(join(r.build, n, "stdout"))).toEqual(Buffer.from("out\0put"));
    expect(read(r.build, `${n}/stderr`)).toBe("err\n");
    const log = JSON.parse(read(r.build, `${n}/server_logs/sandboxlib.json`));
    expect(log.exit_code).toBe(42);
  });

  test("an existing stdout file is refused, and left as it was", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    writeFileSync(join(r.build, n, "stdout"), "bb_worker's");
    const res = await run(paths, ["true"]);
    expect(res.code).toBe(INVALID_ARGUMENT);
    expect(res.details).toContain("stdout_path");
    expect(read(r.build, `${n}/stdout`)).toBe("bb_worker's");
  });

  test("exactly the request's environment", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    const res = await run(paths, ["env"], { PATH: "/bin", FOO: "bar baz", EMPTY: "" });
    expect(res.response!.exit_code).toBe(0);
    expect(read(r.build, `${n}/stdout`).split("\n").filter(Boolean).sort()).toEqual(["EMPTY=", "FOO=bar baz", "PATH=/bin"]);
  });

  test("the working directory, and argv[0] looked up on the action's PATH relative to it", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    const tools = join(r.build, n, "root/sub/dir/tools");
    mkdirSync(tools, { recursive: true });
    writeFileSync(join(tools, "hello"), "#!/bin/sh\necho \"hello from $(pwd) as $0\"\n");
    chmodSync(join(tools, "hello"), 0o755);
    const res = await run(paths, ["hello"], { PATH: "tools:/bin" }, { working_directory: "sub/dir" });
    expect(res.code).toBe(OK);
    expect(read(r.build, `${n}/stdout`)).toBe("hello from /sub/dir as tools/hello\n");
  });

  test("a command that cannot start is INVALID_ARGUMENT: ENOENT, EACCES, ENOEXEC", async () => {
    const n = nextAction();
    const base = layoutAction(r.build, n);
    writeFileSync(join(r.build, n, "root/plain"), "not executable");
    writeFileSync(join(r.build, n, "root/garbage"), "\x7fELF garbage");
    chmodSync(join(r.build, n, "root/garbage"), 0o755);
    for (const [i, args] of [["no-such-tool"], ["/plain"], ["/garbage"]].entries()) {
      const res = await run({ ...base, stdout_path: `${n}/stdout${i}`, stderr_path: `${n}/stderr${i}` }, args);
      expect(res.code).toBe(INVALID_ARGUMENT);
      expect(res.details).toContain(args[0]!.replace(/^\//, ""));
    }
  });

  test("escapes are refused with INVALID_ARGUMENT naming the field, and nothing is created outside", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    const outside = mkdtempSync(join(tmpdir(), "sandboxlib-outside-"));
    symlinkSync(outside, join(r.build, n, "out-link"));
    symlinkSync("/", join(r.build, n, "root/up"));
    try {
      const cases: [string, Record<string, string>][] = [
        ["stdout_path", { stdout_path: `${n}/../../escaped-stdout` }],
        ["stderr_path", { stderr_path: "/tmp/escaped-stderr" }],
        ["stdout_path", { stdout_path: `${n}/out-link/stdout` }],
        ["input_root_directory", { input_root_directory: `../${n}/root` }],
        ["working_directory", { working_directory: "../.." }],
        ["working_directory", { working_directory: "up/etc" }],
        ["temporary_directory", { temporary_directory: "/tmp" }],
        ["server_logs_directory", { server_logs_directory: `${n}/out-link` }],
      ];
      const results = await r.calls(cases.map(([, over]) => ({ method: "Run", request: { arguments: ["true"], environment_variables: {}, ...paths, ...over } })));
      results.forEach((res, i) => {
        expect(res.code).toBe(INVALID_ARGUMENT);
        expect(res.details).toContain(cases[i]![0]);
      });
      expect(existsSync(join(r.build, "..", "escaped-stdout"))).toBe(false);
      expect(existsSync(join(r.dir, "..", "escaped-stdout"))).toBe(false);
      expect(existsSync("/tmp/escaped-stderr")).toBe(false);
      expect(existsSync(join(outside, "stdout"))).toBe(false);
      expect(existsSync(join(outside, "sandboxlib.json"))).toBe(false);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test("a deadline on sleep 30 is DEADLINE_EXCEEDED, with no process left (a setsid'd grandchild included)", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    const token = "3017";
    const started = performance.now();
    const res = await r.call({
      method: "Run",
      request: { arguments: ["sh", "-c", `setsid sleep ${token} & sleep ${token}`], environment_variables: { PATH: "/bin" }, ...paths },
      deadline_ms: 1000,
    });
    expect(res.code).toBe(DEADLINE_EXCEEDED);
    expect(performance.now() - started).toBeLessThan(3000);
    let left = processesWith(`sleep\0${token}`);
    for (let i = 0; i < 40 && left.length; i++) {
      await Bun.sleep(50);
      left = processesWith(`sleep\0${token}`);
    }
    expect(left).toEqual([]);
    // The log is written once the sandbox is reaped, after the client has its answer.
    const log = join(r.build, n, "server_logs/sandboxlib.json");
    for (let i = 0; i < 40 && !existsSync(log); i++) await Bun.sleep(50);
    expect(JSON.parse(readFileSync(log, "utf8")).code).toBe("DEADLINE_EXCEEDED");
    // The runner answers the next call as before.
    expect((await r.call({ method: "CheckReadiness", request: { path: "check_readiness" } })).code).toBe(OK);
  });

  test("a cancelled call kills its sandbox, a setsid'd grandchild included", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    const token = "3019";
    const res = await r.call({
      method: "Run",
      request: { arguments: ["sh", "-c", `setsid sleep ${token} & sleep ${token}`], environment_variables: { PATH: "/bin" }, ...paths },
      cancel_after_ms: 700,
    });
    expect(res.code).toBe(CANCELLED);
    let left = processesWith(`sleep\0${token}`);
    for (let i = 0; i < 40 && left.length; i++) {
      await Bun.sleep(50);
      left = processesWith(`sleep\0${token}`);
    }
    expect(left).toEqual([]);
    const log = join(r.build, n, "server_logs/sandboxlib.json");
    for (let i = 0; i < 40 && !existsSync(log); i++) await Bun.sleep(50);
    expect(JSON.parse(readFileSync(log, "utf8")).code).toBe("CANCELLED");
  });

  test("the sandbox cannot write outside its input root and temporary directory", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    const res = await run(paths, ["sh", "-c", "echo x > /tmp/t && echo x > /made && ! echo x > /proc/sys/kernel/hostname 2>/dev/null && ! touch /proc/x 2>/dev/null"]);
    expect(res.response!.exit_code).toBe(0);
    expect(existsSync(join(r.build, n, "tmp/t"))).toBe(true);
    expect(existsSync(join(r.build, n, "root/made"))).toBe(true);
  });

  test("a host loopback listener is unreachable", async () => {
    let connections = 0;
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void connections++, data: () => {} } });
    try {
      const n = nextAction();
      const paths = layoutAction(r.build, n);
      const res = await run(paths, ["sh", "-c", `echo hi | nc -w 1 127.0.0.1 ${listener.port}`]);
      expect(res.code).toBe(OK);
      expect(res.response!.exit_code).not.toBe(0);
      expect(connections).toBe(0);
    } finally {
      listener.stop(true);
    }
  });

  test("8 concurrent Runs in separate directories all come right", async () => {
    const ns = Array.from({ length: 8 }, nextAction);
    const layouts = ns.map((n) => layoutAction(r.build, n));
    const started = performance.now();
    const results = await r.calls(
      ns.map((n, i) => ({ method: "Run", request: { arguments: ["sh", "-c", `sleep 0.5; echo ${n}; exit ${i}`], environment_variables: { PATH: "/bin" }, ...layouts[i] } })),
    );
    results.forEach((res, i) => {
      expect(res.code).toBe(OK);
      expect(res.response!.exit_code).toBe(i);
      expect(read(r.build, `${ns[i]}/stdout`)).toBe(`${ns[i]}\n`);
    });
    // At once, not one after the other (8 x 0.5 s).
    expect(performance.now() - started).toBeLessThan(3500);
  });

  test("resource usage is a POSIXResourceUsage, decoded and plausible", async () => {
    const n = nextAction();
    const base = layoutAction(r.build, n);
    const [busy, killed] = await r.calls([
      { method: "Run", request: { arguments: ["sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null"], environment_variables: {}, ...base } },
      { method: "Run", request: { arguments: ["sh", "-c", "kill -9 $$"], environment_variables: {}, ...base, stdout_path: `${n}/stdout2`, stderr_path: `${n}/stderr2` } },
    ]);
    expect(busy!.code).toBe(OK);
    const u = busy!.usage![0]! as Record<string, any>;
    expect(u.type_url).toBe("type.googleapis.com/buildbarn.resourceusage.POSIXResourceUsage");
    const cpu = (d: { seconds: number; nanos: number }) => d.seconds + d.nanos / 1e9;
    expect(cpu(u.user_time) + cpu(u.system_time)).toBeGreaterThan(0.01);
    expect(cpu(u.user_time)).toBeLessThan(60);
    expect(u.maximum_resident_set_size).toBeGreaterThan(32 * 1024 * 1024);
    expect(u.maximum_resident_set_size).toBeLessThan(1024 * 1024 * 1024);
    expect(u.termination_signal).toBe("");
    expect(killed!.response!.exit_code).toBe(137);
    expect((killed!.usage![0] as Record<string, unknown>).termination_signal).toBe("KILL");
  });

  test("malformed requests get an error, never a crash", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    const results = await r.calls([
      { method: "Raw", raw_hex: "ffffffffffff" },
      { method: "Raw", raw_hex: "0a05616263" }, // arguments[0] cut short
      { method: "Run", request: { arguments: [], environment_variables: {}, ...paths } },
      { method: "Run", request: { arguments: ["true"], environment_variables: { "A=B": "x" }, ...paths } },
      { method: "Run", request: { arguments: ["true"], environment_variables: {} } },
    ]);
    for (const res of results) expect(res.code).not.toBe(OK);
    expect(results[2]!.code).toBe(INVALID_ARGUMENT);
    expect(results[2]!.details).toContain("arguments");
    expect(results[3]!.details).toContain("A=B");
    expect(results[4]!.details).toContain("input_root_directory");
    expect(r.proc.exitCode).toBe(null);
    const ok = await run(layoutAction(r.build, nextAction()), ["true"]);
    expect(ok.response!.exit_code).toBe(0);
  });
});

rootOnly("runner: the input root bound into a base root filesystem", () => {
  let r: RunningRunner;
  let base: string;
  let hostDir: string;
  beforeAll(async () => {
    base = makeRootfs();
    mkdirSync(join(base, "build"));
    hostDir = mkdtempSync(join(tmpdir(), "sandboxlib-runner-host-"));
    writeFileSync(join(hostDir, "tool"), "from the host\n");
    r = await startRunner({
      root: base,
      input_root_mount: "/build",
      set_tmpdir: true,
      environment: { FROM_CONFIG: "1" },
      pids: 64,
      extra_mounts: [[hostDir, "/opt/host", "bind", ""]],
    });
  });
  afterAll(async () => {
    expect(await r.stop()).toBe(0);
    removeRootfs(base);
    rmSync(hostDir, { recursive: true, force: true });
  });

  test("the base root's tools, the input root at /build, TMPDIR set; writable only there and in /tmp", async () => {
    const n = nextAction();
    const paths = layoutAction(r.build, n, false);
    mkdirSync(join(r.build, n, "root/src"));
    const script =
      "pwd; env | sort; cat /opt/host/tool; echo made > out.txt && echo t > $TMPDIR/t && ! touch /etc/x 2>/dev/null && ! touch /bin/x 2>/dev/null && ! touch /x 2>/dev/null && ! touch /opt/host/x 2>/dev/null";
    const res = await r.call({ method: "Run", request: { arguments: ["/bin/sh", "-c", script], environment_variables: { PATH: "/bin" }, working_directory: "src", ...paths } });
    expect(res.code).toBe(OK);
    expect(read(r.build, `${n}/stderr`)).toBe("");
    expect(res.response!.exit_code).toBe(0);
    const lines = read(r.build, `${n}/stdout`).split("\n");
    expect(lines[0]).toBe("/build/src");
    expect(lines).toContain("TMPDIR=/tmp");
    expect(lines).toContain("FROM_CONFIG=1");
    expect(lines).toContain("from the host");
    expect(existsSync(join(hostDir, "x"))).toBe(false);
    expect(read(r.build, `${n}/root/src/out.txt`)).toBe("made\n");
    expect(read(r.build, `${n}/tmp/t`)).toBe("t\n");
    expect(existsSync(join(base, "etc/x"))).toBe(false);
  });
});

rootOnly("runner: killed", () => {
  test("SIGKILLed mid-action: no process left, no mount; the next runner removes the cgroups it left", async () => {
    const r = await startRunner({ pids: 64 });
    const n = nextAction();
    const paths = layoutAction(r.build, n);
    const token = "4017";
    const pending = r.call({ method: "Run", request: { arguments: ["sh", "-c", `setsid sleep ${token} & sleep ${token}`], environment_variables: { PATH: "/bin" }, ...paths } });
    for (let i = 0; i < 100 && processesWith(`sleep\0${token}`).length < 2; i++) await Bun.sleep(50);
    expect(processesWith(`sleep\0${token}`)).toHaveLength(2);
    const cgroups = Bun.spawnSync(["sh", "-c", `ls -d /sys/fs/cgroup/sandboxlib/${r.proc.pid}-* /sys/fs/cgroup/*/sandboxlib/${r.proc.pid}-* 2>/dev/null`]).stdout.toString().split("\n").filter(Boolean);
    expect(cgroups.length).toBeGreaterThan(0);
    r.proc.kill("SIGKILL");
    await r.proc.exited;
    expect((await pending).code).not.toBe(0);
    let left = processesWith(`sleep\0${token}`);
    for (let i = 0; i < 40 && left.length; i++) {
      await Bun.sleep(50);
      left = processesWith(`sleep\0${token}`);
    }
    expect(left).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(r.build);
    const next = await startRunner(null);
    try {
      expect(cgroups.filter((c) => existsSync(c))).toEqual([]);
    } finally {
      await next.stop();
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
});

describe("runner: start-up", () => {
  test("a bad config stops it at start with one line, exit 125", async () => {
    const { BIN } = await import("../helpers/cli.ts");
    const dir = mkdtempSync(join(tmpdir(), "sandboxlib-runner-config-"));
    try {
      writeFileSync(join(dir, "bad.json"), JSON.stringify({ network: "open" }));
      const p = Bun.spawnSync([BIN, "runner", "--listen", `unix:${dir}/s`, "--build-directory", dir, "--config", join(dir, "bad.json")]);
      expect(p.exitCode).toBe(125);
      const err = p.stderr.toString();
      expect(err.trim().split("\n")).toHaveLength(1);
      expect(err).toContain("network");
      expect(existsSync(join(dir, "s"))).toBe(false);
      const missing = Bun.spawnSync([BIN, "runner", "--listen", `unix:${dir}/s`]);
      expect(missing.exitCode).toBe(125);
      expect(missing.stderr.toString()).toContain("--build-directory");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
