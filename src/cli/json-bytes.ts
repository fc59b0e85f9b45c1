// UTF-8 bytes into the body of a JSON string, byte for byte what
// JSON.stringify writes for the same text, without ever making a string: the
// output of a command is gigabytes at times, and decoding, stringifying and
// encoding it again ran at a quarter of the speed of `cat`.

/** For each byte value, its escape (up to 6 bytes) and the escape's length (0: as it is). */
const ESCAPE = new Uint8Array(256 * 6);
const ESCAPE_LENGTH = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const text = b < 0x20 || b === 0x22 || b === 0x5c ? JSON.stringify(String.fromCharCode(b)).slice(1, -1) : "";
  ESCAPE_LENGTH[b] = text.length;
  for (let k = 0; k < text.length; k++) ESCAPE[b * 6 + k] = text.charCodeAt(k);
}

/** Room `escapeJsonBytes` may need for `length` input bytes (\u00XX is 6). */
export const escapedCapacity = (length: number) => length * 6;

/**
 * Writes the JSON-escaped form of `src` (valid UTF-8) into `out`, which has
 * escapedCapacity(src.length) bytes; returns how many it wrote.
 */
export function escapeJsonBytes(src: Uint8Array, out: Uint8Array): number {
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    const length = ESCAPE_LENGTH[b]!;
    if (length === 0) {
      out[o++] = b;
      continue;
    }
    const at = b * 6;
    out[o] = ESCAPE[at]!;
    out[o + 1] = ESCAPE[at + 1]!;
    if (length === 6) {
      // \u00XX: the control characters, NUL among them (binary-ish output).
      out[o + 2] = ESCAPE[at + 2]!;
      out[o + 3] = ESCAPE[at + 3]!;
      out[o + 4] = ESCAPE[at + 4]!;
      out[o + 5] = ESCAPE[at + 5]!;
    }
    o += length;
  }
  return o;
}
