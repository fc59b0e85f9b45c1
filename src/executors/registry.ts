// get_executor and executor_for_platform of the Python library.
import { configError, shownValue } from "../base/errors.ts";
import { writeText } from "../native/libc.ts";
import { defaultExecutor } from "./auto.ts";
import { chrootExecutor } from "./chroot.ts";
import { fitted } from "./environment.ts";
import type { BackendName, Executor } from "./executor.ts";
import { linuxExecutor } from "./linux.ts";

/** Best first; each fitted to what the environment allows (src/executors/environment.ts). */
export const EXECUTORS: readonly Executor[] = [fitted(linuxExecutor), fitted(chrootExecutor)];

export const BACKEND_NAMES: readonly BackendName[] = EXECUTORS.map((e) => e.name);

/** The Python library's backend names that mean the linux backend here (it does what they did, natively). */
const ALIASES: Readonly<Record<string, BackendName>> = { bubblewrap: "linux", linux_user_chroot: "linux" };

/** The executor called `name` ('-' is read as '_'); an error names an unknown one. */
export function getExecutor(name: string): Executor {
  const wanted = name.replaceAll("-", "_");
  const found = EXECUTORS.find((e) => e.name === (ALIASES[wanted] ?? wanted));
  if (!found) throw configError(`unknown backend: ${shownValue(name)} (known: ${BACKEND_NAMES.join(", ")}; bubblewrap and linux-user-chroot mean linux)`);
  return found;
}

/**
 * The executor to use here: SANDBOXLIB_BACKEND when set to a known backend
 * (an unknown value gets a warning, then the default), else the default:
 * the linux backend where it can run, the chroot backend where it cannot,
 * with a warning saying why (see auto.ts).
 */
export function executorForPlatform(warn: (message: string) => void = (m) => writeText(2, `sandboxlib: warning: ${m}\n`)): Executor {
  const requested = process.env.SANDBOXLIB_BACKEND;
  if (requested) {
    try {
      return getExecutor(requested);
    } catch {
      warn(`unknown SANDBOXLIB_BACKEND value: ${shownValue(requested)}; detecting the backend instead`);
    }
  }
  return defaultExecutor(EXECUTORS[0]!, EXECUTORS[1]!);
}
