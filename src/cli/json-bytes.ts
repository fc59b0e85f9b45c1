// UTF-8 bytes written as the body of a JSON string, byte for byte what
// JSON.stringify writes for the same text, without ever making a string: the
// output of a command is gigabytes at times. The loops are the native
// helper's (sbx_json_escape and sbx_write_escaped in src/native/json-escape.c).
import { helper } from "../native/helper.ts";
import { SysError } from "../native/libc.ts";

/** Room the escaped form of `length` input bytes may need (\u00XX is 6). */
const escapedCapacity = (length: number) => length * 6;

/** Input bytes escaped per write: 6 MiB of JSON at most. */
const CHUNK = 1 << 20;

/**
 * Writes the JSON-escaped form of `src` (valid UTF-8) to `fd`. Beyond one
 * chunk, a writer thread of the helper writes each escaped chunk while the
 * next is escaped. Throws SysError("write") as writeAll does.
 */
export function writeEscaped(fd: number, src: Uint8Array): void {
  if (src.length === 0) return;
  const chunk = Math.min(CHUNK, src.length);
  // Two buffers only when there is more than one chunk to overlap.
  const scratch = new Uint8Array((src.length > chunk ? 2 : 1) * escapedCapacity(chunk));
  const r = Number(helper().sbx_write_escaped(fd, src, src.length, scratch, chunk));
  if (r < 0) throw new SysError("write", -r, `fd ${fd}`);
}

/** The JSON-escaped form of `src` (valid UTF-8), in memory: for output small enough to go out in one write. */
export function escapeJson(src: Uint8Array): Uint8Array {
  if (src.length === 0) return src;
  const out = new Uint8Array(escapedCapacity(src.length));
  return out.subarray(0, Number(helper().sbx_json_escape(src, src.length, out)));
}
