// `sandboxlib runner`: the gRPC service bb_worker calls over a UNIX socket,
// one sandbox per Run, from this one warm process (several at a time, as
// bb_worker asks). The call's deadline is the action's timeout; a deadline
// or a cancellation kills the whole sandbox.
import { closeSync, constants, existsSync, openSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { SandboxError } from "../base/errors.ts";
import type { SandboxOptions } from "../config/options.ts";
import { runSandbox } from "../index.ts";
import { kill } from "../native/libc.ts";
import type { SandboxResult } from "../supervise/run.ts";
import { type ActionPlan, planAction, type RunRequestMessage } from "./action.ts";
import type { RunnerConfig } from "./config.ts";
import { BadRequest, inside } from "./paths.ts";
import { packUsage, protoRoot, serviceDefinition } from "./proto.ts";
import { sweepStaleCgroups } from "./sweep.ts";

const SIGKILL = 9;

const SIGNAL_NAMES: Record<number, string> = {
  1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE", 9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2",
  13: "PIPE", 14: "ALRM", 15: "TERM", 16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU",
  23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "IO", 30: "PWR", 31: "SYS",
};

/** "KILL" for 9; "SIGRTMIN+n" style numbers as "RT<n>"; empty for none. Pure. */
export function signalName(signal: number | null): string {
  if (signal === null) return "";
  return SIGNAL_NAMES[signal] ?? (signal >= 34 && signal <= 64 ? `RTMIN+${signal - 34}` : String(signal));
}

/** A failure with the gRPC status it is answered with. */
export class RpcFailure extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** The status a failure is answered with: the request's fault (the command cannot start, a bad field) or ours. Pure. */
export function statusOf(e: unknown): { code: grpc.status; message: string } {
  if (e instanceof RpcFailure) return { code: e.code, message: e.message };
  if (e instanceof BadRequest) return { code: grpc.status.INVALID_ARGUMENT, message: e.message };
  if (e instanceof SandboxError) {
    const theirs = e.kind === "not-found" || e.kind === "not-executable" || e.kind === "config";
    return { code: theirs ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL, message: e.message };
  }
  return { code: grpc.status.INTERNAL, message: e instanceof Error ? e.message : String(e) };
}

/** Creates an output file that must not exist yet (O_EXCL, no symlink followed; libuv adds O_CLOEXEC). */
function createExclusive(field: string, path: string): number {
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new BadRequest(`${field}: the file exists already: ${JSON.stringify(path)}`);
    throw new BadRequest(`${field}: cannot create ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
}

/** The library options of a planned action. */
export function sandboxOptions(config: RunnerConfig, plan: ActionPlan, stdout: number, stderr: number): SandboxOptions {
  return {
    filesystemRoot: plan.root,
    cwd: plan.cwd,
    env: plan.env,
    extraMounts: plan.extraMounts,
    filesystemWritablePaths: plan.writable,
    mounts: "isolated",
    network: config.network === "isolated" ? "isolated" : "undefined",
    hostname: config.hostname,
    stdin: null,
    stdout,
    stderr,
    newSession: true,
    memory: config.memory,
    pids: config.pids,
    cpus: config.cpus,
    // The command's own peak from wait4 is unknown when below sandboxlib's
    // (see commandPeakKb): the sandbox's cgroup then says what it used.
    measureMemory: true,
  };
}

export interface Runner {
  /** The socket path listened on. */
  socket: string;
  /** Stops accepting calls, kills the running sandboxes, removes the socket. */
  stop(): Promise<void>;
}

type Log = (line: string) => void;

/** Writes the action's diagnostics where bb_worker keeps the server logs; never throws. */
function writeServerLog(dir: string | null, record: Record<string, unknown>): void {
  if (dir === null) return;
  try {
    writeFileSync(join(dir, "sandboxlib.json"), `${JSON.stringify(record, null, 2)}\n`);
  } catch {}
}

/** Starts serving; resolves once the socket listens. `socket` is a path (of unix:PATH). */
export async function startRunner(socket: string, buildDirectory: string, config: RunnerConfig, log: Log): Promise<Runner> {
  const buildDir = realpathSync(buildDirectory);
  if (!statSync(buildDir).isDirectory()) throw new Error(`--build-directory: not a directory: ${JSON.stringify(buildDirectory)}`);
  const root = protoRoot();
  const swept = sweepStaleCgroups();
  if (swept) log(`removed ${swept} cgroup(s) left by sandboxlib processes that were killed`);
  /** Kill functions of the running sandboxes. */
  const running = new Set<() => void>();

  async function checkReadiness(path: string): Promise<void> {
    const host = inside(buildDir, "path", path);
    if (!existsSync(host)) throw new RpcFailure(grpc.status.NOT_FOUND, `path: not found in the build directory: ${JSON.stringify(path)}`);
    // A sandbox of the configured shape can be created: one that goes as
    // far as the exec of a command that does not exist.
    const probeRoot = config.root === "input" ? buildDir : config.root;
    try {
      await runSandbox(["/nonexistent/sandboxlib-readiness-probe"], {
        filesystemRoot: probeRoot,
        filesystemWritablePaths: "none",
        mounts: "isolated",
        network: config.network === "isolated" ? "isolated" : "undefined",
        stdin: null,
        stdout: null,
        stderr: null,
      });
    } catch (e) {
      if (e instanceof SandboxError && e.kind === "not-found") return;
      throw new RpcFailure(grpc.status.UNAVAILABLE, `cannot create a sandbox: ${(e as Error).message}`);
    }
    throw new RpcFailure(grpc.status.UNAVAILABLE, "cannot create a sandbox: the probe did not fail as it should");
  }

  async function run(m: RunRequestMessage, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<Record<string, unknown>> {
    const plan = planAction(config, buildDir, m);
    const started = performance.now();
    const opened: number[] = [];
    let pid: number | null = null;
    let stopped: string | null = null;
    const stop = (why: string) => {
      stopped ??= why;
      if (pid !== null) kill(pid, SIGKILL);
    };
    const deadline = call.getDeadline();
    const dueAt = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    const ms = Number.isFinite(dueAt) ? dueAt - Date.now() : Infinity;
    // grpc-js ends a call at its deadline itself, as a cancellation.
    const onCancel = () => stop(Date.now() >= dueAt - 50 ? "deadline" : "cancelled");
    call.on("cancelled", onCancel);
    const timer = Number.isFinite(ms) ? setTimeout(() => stop("deadline"), Math.max(0, Math.min(ms, 2 ** 31 - 1))) : null;
    running.add(onCancel);
    let result: SandboxResult | null = null;
    try {
      if (call.cancelled) throw new RpcFailure(grpc.status.CANCELLED, "the call was cancelled before the action started");
      opened.push(createExclusive("stdout_path", plan.stdoutPath));
      opened.push(createExclusive("stderr_path", plan.stderrPath));
      const options = sandboxOptions(config, plan, opened[0]!, opened[1]!);
      options.onStart = (p) => {
        pid = p;
        if (stopped !== null) kill(p, SIGKILL);
      };
      result = await runSandbox(plan.argv, options);
      if (stopped === "deadline") throw new RpcFailure(grpc.status.DEADLINE_EXCEEDED, `the action ran past its deadline and was killed: ${JSON.stringify(plan.argv[0])}`);
      if (stopped === "cancelled") throw new RpcFailure(grpc.status.CANCELLED, "the call was cancelled: the action was killed");
      const usage = packUsage(root, {
        userMs: result.usage.userMs,
        sysMs: result.usage.sysMs,
        maxRssBytes: (result.usage.maxRssKb ?? result.usage.cgroupPeakKb ?? 0) * 1024,
        terminationSignal: signalName(result.signal),
      });
      writeServerLog(plan.serverLogs, { arguments: plan.argv, cwd: plan.cwd, exit_code: result.exitCode, signal: result.signal, oom_killed: result.oomKilled, usage: result.usage });
      return { exit_code: result.exitCode, resource_usage: [usage] };
    } catch (e) {
      const status = statusOf(e);
      writeServerLog(plan.serverLogs, { arguments: plan.argv, cwd: plan.cwd, error: status.message, code: grpc.status[status.code], wall_ms: Math.round(performance.now() - started) });
      throw e;
    } finally {
      if (timer !== null) clearTimeout(timer);
      call.off("cancelled", onCancel);
      running.delete(onCancel);
      for (const fd of opened) {
        try {
          closeSync(fd);
        } catch {}
      }
    }
  }

  /** Answers a unary call from `work`, mapping failures to statuses; never throws. */
  const unary =
    <Req>(name: string, work: (req: Req, call: grpc.ServerUnaryCall<Req, unknown>) => Promise<unknown>) =>
    (call: grpc.ServerUnaryCall<Req, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      work(call.request, call).then(
        (response) => callback(null, response),
        (e) => {
          const { code, message } = statusOf(e);
          if (code === grpc.status.INTERNAL) log(`${name}: ${message}`);
          callback({ code, details: message });
        },
      );
    };

  const server = new grpc.Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
  server.addService(serviceDefinition(root, "buildbarn.runner.Runner"), {
    CheckReadiness: unary<{ path: string }>("CheckReadiness", (req) => checkReadiness(req.path).then(() => ({}))),
    Run: unary<RunRequestMessage>("Run", (req, call) => run(req, call as grpc.ServerUnaryCall<unknown, unknown>)),
  });
  // A socket left by a runner that was killed would refuse the bind.
  if (existsSync(socket) && statSync(socket).isSocket()) rmSync(socket);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()));
  });
  return {
    socket,
    async stop() {
      for (const killIt of running) killIt();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      try {
        rmSync(socket);
      } catch {}
    },
  };
}
