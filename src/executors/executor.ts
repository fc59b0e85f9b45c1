// An executor is one backend: its CAPABILITIES, how it degrades a
// configuration, and how it plans a sandbox. Running is shared.
import { type Capabilities, checkCapabilities, degradeForCapabilities, type Warn } from "../config/capabilities.ts";
import { SandboxError } from "../base/errors.ts";
import { type SandboxOptions, toSandboxConfig } from "../config/options.ts";
import { CAPTURE, type SandboxConfig } from "../config/types.ts";
import { geteuid } from "../native/libc.ts";
import { resolvePlanInput } from "../config/resolve.ts";
import type { SandboxPlan } from "../plan/sandbox-plan.ts";
import { plannedProcsFiles } from "../supervise/cgroups.ts";
import { type Planner, runPlanned, type SandboxResult } from "../supervise/run.ts";

export type BackendName = "chroot" | "linux";

export interface Executor {
  readonly name: BackendName;
  readonly CAPABILITIES: Capabilities;
  /** Why this backend cannot run on this host, or null when it can. */
  unavailableReason(): string | null;
  /** A copy of `options` with unsupported settings replaced (and a warning each). */
  degradeConfigForCapabilities<T extends SandboxOptions>(options: T, warn?: Warn): T;
  /** Runs `command`; resolves to its exit status and captured output. */
  runSandbox(command: string | readonly string[], options?: SandboxOptions): Promise<SandboxResult>;
  /** Runs `command` with output going where options say; resolves to its exit status. */
  runSandboxWithRedirection(command: string | readonly string[], options?: SandboxOptions): Promise<number>;
  /**
   * The plan a run of `command` would follow, checked as a run is, with
   * nothing created or run (--print-plan). The stdio descriptors, opened by
   * the run, are shown as 0, 1 and 2.
   */
  planSandbox(command: string | readonly string[], options?: SandboxOptions): PlannedSandbox;
}

export interface PlannedSandbox {
  backend: BackendName;
  plan: SandboxPlan;
}

export interface BackendDefinition {
  name: BackendName;
  capabilities: Capabilities;
  planner: Planner;
  /** Host checks beyond being root (kernel features). */
  unavailableReason(): string | null;
  /** Refuses settings outside CAPABILITIES that this backend cannot honour (`options` as the caller gave them). */
  check?(config: SandboxConfig, options: SandboxOptions): void;
}

function rootReason(): string | null {
  const uid = geteuid();
  return uid === 0 ? null : `must run as root (effective uid ${uid})`;
}

export function defineExecutor(def: BackendDefinition): Executor {
  const executor: Executor = {
    name: def.name,
    CAPABILITIES: def.capabilities,
    unavailableReason: () => rootReason() ?? def.unavailableReason(),
    degradeConfigForCapabilities: (options, warn = true) => degradeForCapabilities(options, def.capabilities, def.name, warn),
    async runSandbox(command, options = {}) {
      const config = toSandboxConfig(command, options);
      checkCapabilities(config, def.capabilities, def.name);
      def.check?.(config, options);
      const reason = executor.unavailableReason();
      if (reason) throw new SandboxError("setup", reason);
      return runPlanned(config, { plan: def.planner }, { onStart: options.onStart, onExit: options.onExit, sleepWhileWaiting: options.sleepWhileWaiting });
    },
    planSandbox(command, options = {}) {
      const config = toSandboxConfig(command, options);
      checkCapabilities(config, def.capabilities, def.name);
      def.check?.(config, options);
      const input = resolvePlanInput(config, [0, 1, 2], plannedProcsFiles(config.limits, config.measureMemory));
      return { backend: def.name, plan: def.planner(input) };
    },
    async runSandboxWithRedirection(command, options = {}) {
      // As in Python: output goes where the caller says; nothing is captured
      // unless asked for, and the caller gets only the exit status.
      const result = await executor.runSandbox(command, {
        ...options,
        stdout: options.stdout === CAPTURE || options.stdout === undefined ? null : options.stdout,
        stderr: options.stderr === CAPTURE || options.stderr === undefined ? null : options.stderr,
      });
      return result.exitCode;
    },
  };
  return executor;
}
