// UTF-8 bytes into the body of a JSON string, byte for byte what
// JSON.stringify writes for the same text, without ever making a string: the
// output of a command is gigabytes at times. The loop is the native helper's
// (sbx_json_escape in helper.c).
import { helper } from "../native/helper.ts";

/** Room `escapeJsonBytes` may need for `length` input bytes (\u00XX is 6). */
export const escapedCapacity = (length: number) => length * 6;

/**
 * Writes the JSON-escaped form of `src` (valid UTF-8) into `out`, which has
 * escapedCapacity(src.length) bytes; returns how many it wrote.
 */
export function escapeJsonBytes(src: Uint8Array, out: Uint8Array): number {
  if (out.length < escapedCapacity(src.length)) throw new RangeError("escapeJsonBytes: output buffer too small");
  return src.length === 0 ? 0 : Number(helper().sbx_json_escape(src, src.length, out));
}
