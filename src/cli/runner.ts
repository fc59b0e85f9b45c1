// `sandboxlib runner`: reads the runner config (a bad one stops here, exit
// 125, one line), serves until SIGTERM or SIGINT, then kills what still runs.
import { configError, shownValue, usageError } from "../base/errors.ts";
import { DEFAULT_RUNNER_CONFIG, parseRunnerConfig, type RunnerConfig, RunnerConfigError } from "../runner/config.ts";
import { startRunner } from "../runner/server.ts";
import { reasonOf, say } from "./failure.ts";
import type { RunnerRequest } from "./parse.ts";

async function readRunnerConfig(path: string | null): Promise<RunnerConfig> {
  if (path === null) return DEFAULT_RUNNER_CONFIG;
  let text: string;
  try {
    text = await Bun.file(path).text();
  } catch (e) {
    throw usageError(`cannot read runner config file: ${shownValue(path)}: ${reasonOf(e)}`);
  }
  try {
    return parseRunnerConfig(text);
  } catch (e) {
    if (e instanceof RunnerConfigError) throw configError(`runner config ${shownValue(path)}: ${e.message}`);
    throw e;
  }
}

export async function runRunner(req: RunnerRequest): Promise<number> {
  const config = await readRunnerConfig(req.configFile);
  let runner;
  try {
    runner = await startRunner(req.socket, req.buildDirectory, config, (line) => say(`runner: ${line}`));
  } catch (e) {
    throw usageError(`runner: cannot start: ${reasonOf(e)}`);
  }
  const { promise: signalled, resolve } = Promise.withResolvers<number>();
  const handlers: [string, () => void][] = [["SIGTERM", () => resolve(15)], ["SIGINT", () => resolve(2)]];
  for (const [name, handler] of handlers) process.on(name, handler);
  say(`runner: listening on unix:${req.socket}, build directory ${req.buildDirectory}`);
  await signalled;
  await runner.stop();
  for (const [name, handler] of handlers) process.off(name, handler);
  return 0;
}
