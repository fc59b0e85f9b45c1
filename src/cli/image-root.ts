// Runs something with --root prepared: an image or tarball unpacked (and its
// defaults applied to the settings), a directory as it is. The unpacked root
// is removed afterwards whatever happens, unless --keep-root said to keep it.
import { InterruptedError } from "../base/errors.ts";
import { stat } from "../native/libc.ts";
import { startUpDone } from "./engine.ts";
import type { RunSettings } from "./settings.ts";

/** A plain directory (the common case) needs none of the image code, which is loaded only for images. */
function isPlainDirectory(path: string): boolean {
  try {
    return stat(path)?.isDirectory === true && stat(`${path}/oci-layout`) === null;
  } catch {
    return false;
  }
}

/** Applies the image's defaults: the command line (or config) overrides each. */
export function applyImageDefaults(s: RunSettings, defaults: { command: string[] | null; env: [string, string][]; cwd: string | null }, isImage: boolean): void {
  if (s.command.length === 0 && defaults.command) s.command = [...defaults.command];
  if (s.cwd === null && defaults.cwd !== null) s.cwd = defaults.cwd;
  // An image brings its own environment instead of sandboxlib's; --env adds
  // to it, and a whole environment given (config "env", --clear-env) wins.
  if (isImage && !s.clearEnv) {
    s.clearEnv = true;
    s.env = [...defaults.env, ...s.env];
  }
}

export async function withPreparedRoot<T>(s: RunSettings, interrupt: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
  if (s.keepRoot === null && s.imageRef === null && isPlainDirectory(s.root)) return run();
  startUpDone(); // the decompressors are hot code
  const { prepareRoot } = await import("../images/prepare.ts");
  const prepared = await prepareRoot(s.root, { keepRoot: s.keepRoot, imageRef: s.imageRef, signal: interrupt });
  try {
    s.root = prepared.root;
    applyImageDefaults(s, prepared.defaults, prepared.kind === "oci" || prepared.kind === "docker-archive" || prepared.kind === "aci");
    return await run();
  } finally {
    prepared.dispose();
  }
}

/** An AbortSignal that trips on the first terminating signal received while nothing runs yet. */
export function interruptOnSignal(signal: number, controller: AbortController): void {
  if (!controller.signal.aborted) controller.abort(new InterruptedError(signal, "preparing the root"));
}
