// sandboxlib's command line: parse, build the library options, run, report.
import pkg from "../../package.json" with { type: "json" };
import { SandboxError, shownValue, usageError } from "../base/errors.ts";
import type { Executor } from "../executors/executor.ts";
import { EXECUTORS, executorForPlatform, getExecutor } from "../executors/registry.ts";
import { close, writeText } from "../native/libc.ts";
import { signalAll } from "../supervise/active.ts";
import { parseConfigText } from "./config-file.ts";
import { BATCH_SETTINGS, refuseRuntimeOptions, restartTuned, RUNNER_SETTINGS, startUpDone } from "./engine.ts";
import { asSandboxError, EXIT_OUTPUT_CLOSED, isClosedOutput, OutputWriteError, reasonOf, say, warn, writingTo } from "./failure.ts";
import { BATCH_HELP, MAIN_HELP, RUN_HELP, RUNNER_HELP } from "./help.ts";
import { parseCommandLine, type RunRequest, settingsFor } from "./parse.ts";
import { failureFields, resultRecord, statusFields, writeResultLine } from "./report.ts";
import { checkInheritedFd, toSandboxOptions } from "./sandbox-options.ts";
import { checkCommand, checkSettings, type RunSettings } from "./settings.ts";
import { interruptOnSignal, withPreparedRoot } from "./image-root.ts";

/** Signals sandboxlib passes on to the command instead of dying of them. */
const FORWARDED = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 } as const;

async function readConfig(path: string): Promise<string> {
  try {
    return path === "-" ? await Bun.stdin.text() : await Bun.file(path).text();
  } catch (e) {
    throw usageError(`cannot read config file: ${shownValue(path)}: ${reasonOf(e)}`);
  }
}

/** The settings of --config, or null without it. */
async function readConfigOf(req: RunRequest): Promise<RunSettings | null> {
  return req.configFile === null ? null : parseConfigText(await readConfig(req.configFile), req.configFile === "-" ? "config" : shownValue(req.configFile));
}

async function run(req: RunRequest): Promise<number> {
  const startedAt = performance.now();
  const fromConfig = await readConfigOf(req);
  const s = settingsFor(req, fromConfig);
  checkSettings(s);
  const status = s.statusFd;
  if (status !== null) checkInheritedFd("--status-fd", status);
  const report = (fields: Record<string, unknown>) => {
    if (status !== null) writingTo(`--status-fd ${status}`, () => writeText(status, `${JSON.stringify(fields)}\n`));
  };
  const opened: number[] = [];
  // A signal goes to the running sandbox; before there is one (unpacking an
  // image), it stops the preparation instead.
  const interrupt = new AbortController();
  const handlers: [string, () => void][] = Object.entries(FORWARDED).map(([name, num]) => [
    name,
    () => {
      if (signalAll(num) === 0) interruptOnSignal(num, interrupt);
    },
  ]);
  for (const [name, handler] of handlers) process.on(name, handler);
  try {
    return await withPreparedRoot(s, interrupt.signal, async () => {
      if (interrupt.signal.aborted) throw interrupt.signal.reason;
      checkCommand(s);
      const executor: Executor = s.backend ? getExecutor(s.backend) : executorForPlatform(warn);
      let options = toSandboxOptions(s, opened, "run");
      if (s.degrade) options = executor.degradeConfigForCapabilities(options, warn);
      options.sleepWhileWaiting = true;
      options.onStart = (pid) => {
        startUpDone();
        report({ child_pid: pid });
      };
      const result = await executor.runSandbox(s.command, options);
      report(statusFields(result));
      if (s.json) writingTo("stdout", () => writeResultLine(1, resultRecord(result)));
      if (result.oomKilled) say(`the command was killed: out of memory (limit ${s.memory} bytes)`);
      else if (result.timedOut) say(`the command timed out after ${s.timeout}s`);
      return result.exitCode;
    });
  } catch (e) {
    if (isClosedOutput(e)) throw e;
    const error = asSandboxError(e);
    // The failure goes to the status fd and stdout as well, if they can
    // still be written: the error to report is this one, not theirs.
    if (!(error instanceof OutputWriteError)) {
      try {
        report(failureFields(error, startedAt));
        if (s.json) writeResultLine(1, { fields: failureFields(error, startedAt), stdout: null, stderr: null });
      } catch {}
    }
    throw error;
  } finally {
    for (const fd of opened) close(fd);
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}

/** Runs the command line; resolves to the exit status. Never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    refuseRuntimeOptions();
    const req = parseCommandLine(argv);
    const toStdout = (text: string) => writingTo("stdout", () => writeText(1, text));
    switch (req.kind) {
      case "help":
        toStdout(req.topic === "run" ? RUN_HELP : req.topic === "batch" ? BATCH_HELP : req.topic === "runner" ? RUNNER_HELP : MAIN_HELP);
        return 0;
      case "version":
        toStdout(`sandboxlib ${pkg.version}\n`);
        return 0;
      case "capabilities": {
        const list = req.backend ? [getExecutor(req.backend)] : EXECUTORS;
        const caps = Object.fromEntries(list.map((e) => [e.name, e.CAPABILITIES]));
        toStdout(`${JSON.stringify(req.backend ? caps[list[0]!.name] : caps, null, 2)}\n`);
        return 0;
      }
      case "run":
        if (req.printPlan) return await (await import("./print-plan.ts")).printPlan(req, await readConfigOf(req), toStdout);
        return await run(req);
      case "batch":
        restartTuned(argv, BATCH_SETTINGS);
        startUpDone();
        return await (await import("./batch.ts")).runBatch(req, (record) => writingTo("stdout", () => writeResultLine(1, record)));
      case "runner":
        restartTuned(argv, RUNNER_SETTINGS);
        startUpDone();
        return await (await import("./runner.ts")).runRunner(req);
      case "check":
        return await (await import("./check.ts")).runCheck(req.args, async (text) => toStdout(text));
    }
  } catch (e) {
    // Whoever read the results stopped reading (`| head`): stop quietly, as
    // a tool that dies of SIGPIPE does (Bun ignores SIGPIPE).
    if (isClosedOutput(e)) return EXIT_OUTPUT_CLOSED;
    const error = asSandboxError(e);
    const detail = process.env.SANDBOXLIB_DEBUG && e instanceof Error && e !== error ? ` (${e.stack})` : "";
    say(`${error.message}${detail}`);
    return error.exitCode;
  }
}
