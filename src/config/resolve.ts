// Resolves a SandboxConfig against the host: the root and bind sources must
// exist, every in-root path gets its canonical form. The result is what the
// planners take (PlanInput).
import { realPath, stat } from "../native/libc.ts";
import { nodeFs } from "../native/node-fs.ts";
import type { PlanInput, PlannedMount } from "./plan-input.ts";
import { absolutePath, inRootPath } from "../base/paths.ts";
import { currentArch } from "../hardening/seccomp.ts";
import { RLIMIT_NUMBERS } from "../hardening/rlimits.ts";
import { configError } from "../base/errors.ts";
import { parseMountOptions } from "./mount-options.ts";
import type { ExtraMount, SandboxConfig } from "./types.ts";

/** Searched for a command without '/' when the environment has no PATH. */
export const DEFAULT_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function hostPath(what: string, path: string): string {
  try {
    return realPath(path);
  } catch {
    throw configError(`${what} does not exist: ${path}`);
  }
}

const isNone = (s: string | null) => s === null || s === "" || s === "none";

export function planMount(entry: ExtraMount): PlannedMount {
  const target = inRootPath(entry.target);
  if (target === "") throw configError(`mount target is the sandbox root itself: ${entry.target}`);
  const parsed = parseMountOptions(entry.options, entry.type);
  if (parsed.remount) return { source: null, target, fstype: null, flags: parsed.flags, data: null, bind: false, readOnly: true, sourceIsFile: false, remount: true };
  if (parsed.bind) {
    if (isNone(entry.source)) throw configError(`bind mount needs a source: ${entry.target}`);
    const source = hostPath("bind source", entry.source as string);
    return { source, target, fstype: null, flags: parsed.flags, data: null, bind: true, readOnly: parsed.readOnly, sourceIsFile: !stat(source)?.isDirectory };
  }
  if (isNone(entry.type)) throw configError(`mount type missing for ${entry.target}`);
  const fstype = entry.type as string;
  return {
    source: isNone(entry.source) ? fstype : entry.source,
    target,
    fstype,
    flags: parsed.flags,
    data: parsed.data,
    bind: false,
    readOnly: parsed.readOnly,
    sourceIsFile: false,
  };
}

/** A path that reaches a mount stacked on `root` (see PlanInput.rootReentry). */
export function rootReentry(root: string): string {
  if (root !== "/") return root;
  const dir = nodeFs().readdirSync("/", { withFileTypes: true }).find((e) => e.isDirectory());
  if (!dir) throw configError("filesystem root / has no directory to re-enter it through");
  return `/${dir.name}/..`;
}

export function resolvePlanInput(config: SandboxConfig, stdio: readonly [number, number, number], cgroupProcs: readonly string[] = []): PlanInput {
  const root = hostPath("filesystem root", config.filesystemRoot);
  if (!stat(root)?.isDirectory) throw configError(`filesystem root is not a directory: ${config.filesystemRoot}`);
  const envObject = config.env ?? (process.env as Record<string, string | undefined>);
  const env: string[] = [];
  for (const name in envObject) {
    const value = envObject[name];
    if (value !== undefined) env.push(`${name}=${value}`);
  }
  // Without a root the command stays where sandboxlib was, as with chroot(1).
  const cwd = config.cwd === null ? (root === "/" ? process.cwd() : "/") : absolutePath(config.cwd);
  const writable = config.filesystemWritablePaths;
  let resolvedWritable: PlanInput["writable"];
  if (typeof writable === "string") resolvedWritable = writable;
  else {
    const paths = [...new Set(writable.map(inRootPath))];
    resolvedWritable = paths.includes("") ? "all" : paths;
  }
  return {
    root,
    rootReentry: rootReentry(root),
    argv: config.command,
    env,
    searchPath: envObject.PATH ?? DEFAULT_SEARCH_PATH,
    cwd,
    mounts: config.extraMounts.map(planMount),
    writable: resolvedWritable,
    // The root itself always exists.
    createWritable: [...new Set(config.createWritablePaths.map(inRootPath))].filter((p) => p !== ""),
    network: config.network,
    hostname: config.hostname,
    stdio,
    hardening: {
      newSession: config.newSession,
      passFds: config.passFds,
      rlimits: config.rlimits,
      capabilities: config.capabilities,
      uid: config.uid,
      gid: config.gid,
      seccomp: config.seccomp,
      arch: currentArch(),
      processLimit: config.limits.pids !== null || config.rlimits.some((r) => r.resource === RLIMIT_NUMBERS.nproc),
    },
    cgroupProcs,
  };
}
