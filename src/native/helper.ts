// Compiles helper.c in-process with bun:ffi's cc (TinyCC ships in Bun), once
// per process. The source is embedded in the bundle and handed to cc through
// a memfd, because cc cannot read a file from a compiled binary's $bunfs.
import { cc, FFIType } from "bun:ffi";
import helperSource from "./helper.c" with { type: "text" };
import { close, memfdCreate, writeAll } from "./libc.ts";

const symbols = {
  sbx_spawn: { args: [FFIType.ptr], returns: FFIType.i64 },
  sbx_release: { args: [FFIType.ptr], returns: FFIType.void },
  sbx_wait: { args: [FFIType.i64, FFIType.ptr, FFIType.ptr], returns: FFIType.i64 },
  sbx_run_steps: { args: [FFIType.ptr, FFIType.i64, FFIType.ptr], returns: FFIType.i64 },
  sbx_run_all_steps: {
    args: [FFIType.ptr, FFIType.i64, FFIType.ptr, FFIType.ptr],
    returns: FFIType.i64,
  },
} as const;

type HelperSymbols = ReturnType<typeof cc<typeof symbols>>["symbols"];

let compiled: HelperSymbols | undefined;

/** The helper's entry points, compiled on first use. */
export function helper(): HelperSymbols {
  if (compiled) return compiled;
  const fd = memfdCreate("sandboxlib-helper.c");
  try {
    writeAll(fd, Buffer.from(helperSource));
    // The library object must live as long as the process: sandboxes still
    // running execute its code.
    compiled = cc({ source: `/proc/self/fd/${fd}`, symbols }).symbols;
  } finally {
    close(fd);
  }
  return compiled;
}
