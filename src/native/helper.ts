// The native helper (helper.c), loaded once per process. The executable
// embeds a copy precompiled by build.ts and dlopens it from a memfd; without
// one (development, or a build without a C compiler) the source is compiled
// in-process with bun:ffi's cc (TinyCC ships in Bun). The source is embedded
// in the bundle and handed to cc through a memfd, because cc cannot read a
// file from a compiled binary's $bunfs.
import { cc, dlopen, FFIType } from "bun:ffi";
import { close, memfdCreate, writeAll } from "./libc.ts";

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
  sbx_run_steps: { args: [FFIType.ptr, FFIType.i64, FFIType.ptr], returns: FFIType.i64 },
  sbx_json_escape: { args: [FFIType.ptr, FFIType.i64, FFIType.ptr], returns: FFIType.i64 },
  sbx_write_escaped: { args: [FFIType.i64, FFIType.ptr, FFIType.i64, FFIType.ptr, FFIType.i64], returns: FFIType.i64 },
  sbx_run_all_steps: {
    args: [FFIType.ptr, FFIType.i64, FFIType.ptr, FFIType.ptr],
    returns: FFIType.i64,
  },
} as const;

type HelperSymbols = ReturnType<typeof cc<typeof symbols>>["symbols"];

/** Base64 of the helper built by build.ts, replaced at build time; null when there is none. */
declare const SANDBOXLIB_PRECOMPILED_HELPER: string | null;
const precompiled = typeof SANDBOXLIB_PRECOMPILED_HELPER === "string" ? SANDBOXLIB_PRECOMPILED_HELPER : null;

/** Base64 of sandboxlib-init (init.c) built by build.ts; null when there is none. */
declare const SANDBOXLIB_PRECOMPILED_INIT: string | null;
const initProgram = typeof SANDBOXLIB_PRECOMPILED_INIT === "string" ? SANDBOXLIB_PRECOMPILED_INIT : null;

let initMemfd: number | undefined;

/**
 * A memfd holding sandboxlib-init, which the sandbox's PID 1 execs so as to
 * share no memory with sandboxlib; -1 when this build has none (the init then
 * stays in the cloned process). SANDBOXLIB_INIT=shared forces that, for tests.
 */
export function initProgramFd(): number {
  if (initMemfd !== undefined) return initMemfd;
  if (!initProgram || process.env.SANDBOXLIB_INIT === "shared") return (initMemfd = -1);
  const fd = memfdCreate("sandboxlib-init");
  writeAll(fd, Uint8Array.fromBase64(initProgram));
  return (initMemfd = fd);
}

let loaded: HelperSymbols | undefined;

const helperSourceText = () => (require("./helper-source.ts") as typeof import("./helper-source.ts")).default;

/** How the helper was obtained in this process, for `check` and tests. */
export function helperOrigin(): "precompiled" | "tinycc" {
  return precompiled && process.env.SANDBOXLIB_HELPER !== "tinycc" ? "precompiled" : "tinycc";
}

function fromMemfd<T>(name: string, bytes: Uint8Array, load: (path: string) => T): T {
  const fd = memfdCreate(name);
  try {
    writeAll(fd, bytes);
    return load(`/proc/self/fd/${fd}`);
  } finally {
    close(fd);
  }
}

/** The helper's entry points, loaded on first use. */
export function helper(): HelperSymbols {
  if (loaded) return loaded;
  // The library object must live as long as the process: sandboxes still
  // running execute its code.
  loaded =
    helperOrigin() === "precompiled"
      ? fromMemfd("sandboxlib-helper.so", Uint8Array.fromBase64(precompiled!), (path) => dlopen(path, symbols).symbols)
      : fromMemfd("sandboxlib-helper.c", new TextEncoder().encode(helperSourceText()), (path) => cc({ source: path, symbols }).symbols);
  return loaded;
}
