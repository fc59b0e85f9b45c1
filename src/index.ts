// sandboxlib as a library for Bun programs: the Python library's API in
// TypeScript spelling.
//
//   import { runSandbox, CAPTURE } from "sandboxlib";
//   const r = await runSandbox(["make", "-j4"], { filesystemRoot: "/srv/rootfs", cwd: "/src" });
import type { SandboxOptions } from "./config/options.ts";
import { executorForPlatform } from "./executors/registry.ts";
import type { SandboxResult } from "./supervise/run.ts";

export { CAPTURE, STDOUT } from "./config/types.ts";
export type { ExtraMountEntry, ExtraMount, WritablePaths, OutputTarget, ErrorTarget, FileLike } from "./config/types.ts";
export type { SandboxOptions } from "./config/options.ts";
export type { Capabilities, Warn } from "./config/capabilities.ts";
export { validateExtraMounts } from "./config/extra-mounts.ts";
export { SandboxError, EXIT_SETUP_FAILED, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND } from "./base/errors.ts";
export type { SandboxErrorKind } from "./base/errors.ts";
export { getExecutor, executorForPlatform, EXECUTORS } from "./executors/registry.ts";
export type { Executor, BackendName } from "./executors/executor.ts";
export type { SandboxResult } from "./supervise/run.ts";
export { prepareRoot } from "./images/prepare.ts";
export type { PreparedRoot, PrepareOptions, RootKind } from "./images/prepare.ts";
export type { ImageDefaults } from "./images/defaults.ts";

/** Runs `command` with the executor for this platform (see executorForPlatform). */
export function runSandbox(command: string | readonly string[], options: SandboxOptions = {}): Promise<SandboxResult> {
  return executorForPlatform().runSandbox(command, options);
}

/** Runs `command` with output redirected as options say; resolves to the exit status. */
export function runSandboxWithRedirection(command: string | readonly string[], options: SandboxOptions = {}): Promise<number> {
  return executorForPlatform().runSandboxWithRedirection(command, options);
}
