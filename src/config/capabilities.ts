// CAPABILITIES and degrade_config_for_capabilities of the Python library:
// each backend lists the values it supports per setting; asking for another
// is an error unless degraded, which falls back with a warning.
import { writeText } from "../native/libc.ts";
import { configError } from "../base/errors.ts";
import type { MountsSetting, NetworkSetting, WritablePaths } from "./types.ts";

export interface Capabilities {
  network: readonly NetworkSetting[];
  mounts: readonly MountsSetting[];
  /** "all", "none", and "any" for a list of paths. */
  filesystem_writable_paths: readonly ("all" | "none" | "any")[];
  /** This project's own features the backend honours (not degradable: informative). */
  features: readonly string[];
}

/** Process control and hardening, which both backends give. */
export const COMMON_FEATURES = [
  "signal_forwarding", "timeout", "die_with_parent", "kill_leftovers", "close_fds", "pass_fds", "new_session",
  "stdin", "no_new_privs", "capabilities", "uid_gid", "seccomp", "rlimits", "cgroup_limits", "status_fd",
] as const;

/** The settings capabilities speak of, in the library's spelling. */
export interface DegradableSettings {
  network?: NetworkSetting;
  mounts?: MountsSetting;
  filesystemWritablePaths?: WritablePaths;
}

export type Warn = boolean | ((message: string) => void);

interface Mismatch {
  name: "network" | "mounts" | "filesystem_writable_paths";
  key: keyof DegradableSettings;
  shown: string;
  fallback: string;
}

function writableKind(value: WritablePaths): "all" | "none" | "any" {
  return typeof value === "string" ? value : "any";
}

function mismatches(settings: DegradableSettings, caps: Capabilities): Mismatch[] {
  const found: Mismatch[] = [];
  if (settings.network !== undefined && !caps.network.includes(settings.network)) {
    found.push({ name: "network", key: "network", shown: settings.network, fallback: caps.network[0]! });
  }
  if (settings.mounts !== undefined && !caps.mounts.includes(settings.mounts)) {
    found.push({ name: "mounts", key: "mounts", shown: settings.mounts, fallback: caps.mounts[0]! });
  }
  const writable = settings.filesystemWritablePaths;
  if (writable !== undefined && !caps.filesystem_writable_paths.includes(writableKind(writable))) {
    found.push({
      name: "filesystem_writable_paths",
      key: "filesystemWritablePaths",
      shown: typeof writable === "string" ? writable : JSON.stringify(writable),
      fallback: caps.filesystem_writable_paths[0]!,
    });
  }
  return found;
}

/** Throws a config error naming the first unsupported setting and the backend. */
export function checkCapabilities(settings: DegradableSettings, caps: Capabilities, backend: string): void {
  const first = mismatches(settings, caps)[0];
  if (first) {
    throw configError(
      `${first.name}=${first.shown} is not supported by the ${backend} backend (supported: ${caps[first.name].join(", ")}; --degrade falls back to ${first.fallback})`,
    );
  }
}

function emit(warn: Warn, message: string): void {
  if (warn === false) return;
  if (warn === true) writeText(2, `sandboxlib: warning: ${message}\n`);
  else warn(message);
}

/** Returns a copy with every unsupported setting set to the backend's first value. */
export function degradeForCapabilities<T extends DegradableSettings>(
  settings: T,
  caps: Capabilities,
  backend: string,
  warn: Warn = true,
): T {
  const out: T = { ...settings };
  for (const m of mismatches(settings, caps)) {
    emit(warn, `Unable to set ${m.name}=${m.shown} in a ${backend} sandbox, falling back to ${m.name}=${m.fallback}`);
    (out as Record<string, unknown>)[m.key] = m.fallback;
  }
  return out;
}
