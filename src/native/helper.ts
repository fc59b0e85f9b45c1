// The native helper (steps.c, sandbox.c, spawner.c, json-escape.c) and
// sandboxlib-init (init.c), as build.ts compiled them. The executable embeds
// both: the helper is dlopened from a memfd, the init written to a memfd the
// sandbox process execs. Code run from the sources (tests, development)
// takes them from dist/native/, where build.ts leaves them.
import { dlopen, FFIType } from "bun:ffi";
import { close, memfdCreate, open, O_RDONLY, writeAll } from "./libc.ts";

const symbols = {
  sbx_spawn: { args: [FFIType.ptr], returns: FFIType.i64 },
  sbx_spawners: { args: [FFIType.i64, FFIType.i64], returns: FFIType.i64 },
  sbx_spawn_async: { args: [FFIType.ptr], returns: FFIType.i64 },
  sbx_take_stack: { args: [FFIType.ptr], returns: FFIType.i64 },
  sbx_spawn_wake_fd: { args: [], returns: FFIType.i64 },
  sbx_await_spawn: { args: [FFIType.ptr], returns: FFIType.void },
  sbx_release: { args: [FFIType.ptr], returns: FFIType.void },
  sbx_collect: { args: [FFIType.ptr], returns: FFIType.void },
  sbx_wait: { args: [FFIType.i64, FFIType.ptr, FFIType.ptr], returns: FFIType.i64 },
  sbx_idle: { args: [FFIType.ptr, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
  sbx_run_steps: { args: [FFIType.ptr, FFIType.i64, FFIType.ptr], returns: FFIType.i64 },
  sbx_json_escape: { args: [FFIType.ptr, FFIType.i64, FFIType.ptr], returns: FFIType.i64 },
  sbx_write_escaped: { args: [FFIType.i64, FFIType.ptr, FFIType.i64, FFIType.ptr, FFIType.i64], returns: FFIType.i64 },
  sbx_run_all_steps: {
    args: [FFIType.ptr, FFIType.i64, FFIType.ptr, FFIType.ptr],
    returns: FFIType.i64,
  },
} as const;

type HelperSymbols = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

/** Base64 of the helper and of sandboxlib-init, put in by build.ts; absent when running from the sources. */
declare const SANDBOXLIB_EMBEDDED_HELPER: string;
declare const SANDBOXLIB_EMBEDDED_INIT: string;
const embedded = typeof SANDBOXLIB_EMBEDDED_HELPER === "string";

/** Where build.ts leaves the native programs, for code run from the sources. */
const builtPath = (name: string) => `${import.meta.dir}/../../dist/native/${name}`;

function notBuilt(name: string): never {
  throw new Error(`the native code is not built (no dist/native/${name}): run \`bun build.ts\``);
}

let initFd: number | undefined;

/** An fd of sandboxlib-init, which the sandbox process execs (execveat) once the command is started. */
export function initProgramFd(): number {
  if (initFd !== undefined) return initFd;
  if (embedded) {
    const fd = memfdCreate("sandboxlib-init");
    writeAll(fd, Uint8Array.fromBase64(SANDBOXLIB_EMBEDDED_INIT));
    return (initFd = fd);
  }
  try {
    return (initFd = open(builtPath("sandboxlib-init"), O_RDONLY));
  } catch {
    notBuilt("sandboxlib-init");
  }
}

let loaded: HelperSymbols | undefined;

/** The helper's entry points, loaded on first use. */
export function helper(): HelperSymbols {
  if (loaded) return loaded;
  // The library object must live as long as the process: sandboxes still
  // running execute its code.
  if (!embedded) {
    try {
      return (loaded = dlopen(builtPath("sandboxlib-helper.so"), symbols).symbols);
    } catch {
      notBuilt("sandboxlib-helper.so");
    }
  }
  const fd = memfdCreate("sandboxlib-helper.so");
  try {
    writeAll(fd, Uint8Array.fromBase64(SANDBOXLIB_EMBEDDED_HELPER));
    return (loaded = dlopen(`/proc/self/fd/${fd}`, symbols).symbols);
  } finally {
    close(fd);
  }
}

/** Where this process's native code comes from, for `check`. */
export function helperOrigin(): string {
  return embedded ? "built with the system C compiler (embedded)" : "built with the system C compiler (dist/native)";
}
