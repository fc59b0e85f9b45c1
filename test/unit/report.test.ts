// --json and batch lines are written a chunk at a time; what comes out must
// still be one valid JSON object per line, whatever the output holds.
import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { escapedCapacity, escapeJsonBytes } from "../../src/cli/json-bytes.ts";
import { writeResultLine } from "../../src/cli/report.ts";

function written(stdout: Uint8Array | null, stderr: Uint8Array | null): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), "sandboxlib-report-"));
  try {
    const path = join(dir, "out.json");
    const fd = openSync(path, "w");
    writeResultLine(fd, { fields: { exit_code: 0, line: 3 }, stdout, stderr });
    closeSync(fd);
    const text = readFileSync(path, "utf8");
    expect(text.endsWith("}\n")).toBe(true);
    expect(text.indexOf("\n")).toBe(text.length - 1);
    return JSON.parse(text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("writeResultLine", () => {
  test("fields first, then the streams", () => {
    expect(written(Buffer.from("out\n"), null)).toEqual({ exit_code: 0, line: 3, stdout: "out\n", stderr: null });
  });

  test("UTF-8 split across chunk boundaries, quotes, NULs and control characters", () => {
    const text = `${"é€😀".repeat(150_000)}"quoted"\\back\u0000\n\t`;
    const r = written(Buffer.from(text), Buffer.from(""));
    expect(r.stdout).toBe(text);
    expect(r.stderr).toBe("");
  });

  test("bytes that are not UTF-8 come out as base64, in whole groups across chunks", () => {
    const bytes = new Uint8Array(2 * 1024 * 1024 + 7).map((_, i) => (i * 7 + 0x80) & 0xff);
    const r = written(null, bytes);
    expect(r.stderr_encoding).toBe("base64");
    expect(Buffer.from(r.stderr as string, "base64").equals(Buffer.from(bytes))).toBe(true);
  });
});

describe("escapeJsonBytes", () => {
  const escape = (text: string) => {
    const src = Buffer.from(text);
    const out = new Uint8Array(escapedCapacity(src.length));
    return Buffer.from(out.subarray(0, escapeJsonBytes(src, out))).toString();
  };

  test("writes exactly what JSON.stringify writes, for every ASCII character and beyond", () => {
    for (let c = 0; c < 128; c++) expect(escape(String.fromCharCode(c))).toBe(JSON.stringify(String.fromCharCode(c)).slice(1, -1));
    const mixed = `a\u0000b\u001f"\\/\u007f\u2028\u2029é€😀\r\n\t\b\f`;
    expect(escape(mixed)).toBe(JSON.stringify(mixed).slice(1, -1));
  });

  test("a slice of a larger buffer is read from its own start; a short output buffer is refused", () => {
    const whole = new TextEncoder().encode('xx"a\nb"yy');
    const out = new Uint8Array(escapedCapacity(6));
    expect(new TextDecoder().decode(out.subarray(0, escapeJsonBytes(whole.subarray(2, 7), out)))).toBe('\\"a\\nb\\"');
    expect(() => escapeJsonBytes(whole, out)).toThrow(RangeError);
  });

  test("every length and offset, with the bytes to escape anywhere in or across 8-byte words", () => {
    // Text is copied a word at a time: each special byte is tried at every
    // position of a word and across word boundaries, at every alignment.
    const specials = ["\u0000", "\n", '"', "\\", "\u001f", "\u007f", "é", "€", "😀"];
    const base = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (const special of specials) {
      for (let at = 0; at < 20; at++) {
        const text = base.slice(0, at) + special + base.slice(at, 24) + special + special;
        const bytes = new TextEncoder().encode(`..${text}`);
        for (let from = 0; from <= 2; from++) {
          const src = bytes.subarray(from);
          const out = new Uint8Array(escapedCapacity(src.length));
          const got = new TextDecoder().decode(out.subarray(0, escapeJsonBytes(src, out)));
          expect(got).toBe(JSON.stringify(new TextDecoder().decode(src)).slice(1, -1));
        }
      }
    }
  });

  test("the worst case fills the capacity exactly", () => {
    const src = new Uint8Array(1000);
    const out = new Uint8Array(escapedCapacity(src.length));
    expect(escapeJsonBytes(src, out)).toBe(out.length);
  });
});
