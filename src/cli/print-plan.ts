// `sandboxlib run --print-plan`: the plan a run would follow, as JSON on
// stdout. Checked as a run is checked; nothing is run, nothing is created
// (no cgroup, no mount point, no journal, no output file), no root needed.
import { usageError } from "../base/errors.ts";
import { executorForPlatform, getExecutor } from "../executors/registry.ts";
import { stat } from "../native/libc.ts";
import { printablePlan } from "../plan/print.ts";
import { warn } from "./failure.ts";
import { type RunRequest, settingsFor } from "./parse.ts";
import { toSandboxOptions } from "./sandbox-options.ts";
import { checkCommand, checkSettings, type OutputSetting, type RunSettings } from "./settings.ts";

/** An output setting as the printed plan shows it. */
function shownOutput(o: OutputSetting): string | { file: string } {
  return o.kind === "file" ? { file: o.path } : o.kind;
}

/** Where the command's stdio would go; the plan's dup2 steps show the descriptors as 0, 1 and 2. */
export function shownStdio(s: RunSettings): { stdin: string | { file: string }; stdout: string | { file: string }; stderr: string | { file: string } } {
  return {
    stdin: s.stdinFile === null ? "inherit" : s.stdinFile === "null" ? "null" : { file: s.stdinFile },
    stdout: s.json ? "capture" : shownOutput(s.stdout),
    stderr: s.json ? "capture" : shownOutput(s.stderr),
  };
}

function isDirectory(path: string): boolean {
  try {
    return stat(path)?.isDirectory === true && stat(`${path}/oci-layout`) === null;
  } catch {
    return false;
  }
}

export async function printPlan(req: RunRequest, fromConfig: RunSettings | null, out: (text: string) => void): Promise<number> {
  const s = settingsFor(req, fromConfig);
  checkSettings(s);
  // An image would have to be unpacked to plan on it.
  if (s.keepRoot !== null || s.imageRef !== null || !isDirectory(s.root)) {
    throw usageError(`--print-plan needs a directory as --root (an image or tarball is unpacked only by a run): ${s.root}`);
  }
  checkCommand(s);
  const executor = s.backend ? getExecutor(s.backend) : executorForPlatform(warn);
  // No file is opened: the plan does not depend on where output goes.
  const files: RunSettings = { ...s, stdout: { kind: "inherit" }, stderr: s.stderr.kind === "stdout" ? s.stderr : { kind: "inherit" }, stdinFile: null };
  let options = toSandboxOptions(files, [], "run");
  if (s.degrade) options = executor.degradeConfigForCapabilities(options, warn);
  const { backend, plan } = executor.planSandbox(s.command, options);
  out(`${JSON.stringify(printablePlan(backend, plan, { stdio: shownStdio(s) }), null, 2)}\n`);
  return 0;
}
