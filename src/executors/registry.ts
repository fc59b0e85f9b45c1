// get_executor and executor_for_platform of the Python library.
import { configError } from "../config/errors.ts";
import { writeText } from "../native/libc.ts";
import { chrootExecutor } from "./chroot.ts";
import type { BackendName, Executor } from "./executor.ts";
import { linuxExecutor } from "./linux.ts";

/** Best first: executorForPlatform picks the first that can run here. */
export const EXECUTORS: readonly Executor[] = [linuxExecutor, chrootExecutor];

export const BACKEND_NAMES: readonly BackendName[] = EXECUTORS.map((e) => e.name);

/** The executor called `name` ('-' is read as '_'); an error names an unknown one. */
export function getExecutor(name: string): Executor {
  const wanted = name.replaceAll("-", "_");
  const found = EXECUTORS.find((e) => e.name === wanted);
  if (!found) throw configError(`unknown backend: ${name} (known: ${BACKEND_NAMES.join(", ")})`);
  return found;
}

/**
 * The executor to use here: SANDBOXLIB_BACKEND when set to a known backend
 * (an unknown value gets a warning, then autodetection), else the best one
 * this host can run.
 */
export function executorForPlatform(warn: (message: string) => void = (m) => writeText(2, `sandboxlib: warning: ${m}\n`)): Executor {
  const requested = process.env.SANDBOXLIB_BACKEND;
  if (requested) {
    try {
      return getExecutor(requested);
    } catch {
      warn(`unknown SANDBOXLIB_BACKEND value: ${requested}; detecting the backend instead`);
    }
  }
  return EXECUTORS.find((e) => e.unavailableReason() === null) ?? linuxExecutor;
}
