// --json and batch lines are written a chunk at a time; what comes out must
// still be one valid JSON object per line, whatever the output holds.
import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeEscaped } from "../../src/cli/json-bytes.ts";
import { close, pipe, SysError } from "../../src/native/libc.ts";
import { failureFields, writeResultLine } from "../../src/cli/report.ts";
import { SandboxError } from "../../src/base/errors.ts";

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

/** What writeEscaped writes for `src`, read back from a file. */
function escapedBytes(src: Uint8Array): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "sandboxlib-escape-"));
  try {
    const path = join(dir, "out");
    const fd = openSync(path, "w");
    writeEscaped(fd, src);
    closeSync(fd);
    return readFileSync(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("writeEscaped", () => {
  const escape = (text: string) => new TextDecoder().decode(escapedBytes(new TextEncoder().encode(text)));
  const json = (text: string) => JSON.stringify(text).slice(1, -1);

  test("writes exactly what JSON.stringify writes, for every ASCII character and beyond", () => {
    for (let c = 0; c < 128; c++) expect(escape(String.fromCharCode(c))).toBe(json(String.fromCharCode(c)));
    const mixed = `a\u0000b\u001f"\\/\u007f\u2028\u2029é€😀\r\n\t\b\f`;
    expect(escape(mixed)).toBe(json(mixed));
  });

  test("a slice of a larger buffer is read from its own start", () => {
    const whole = new TextEncoder().encode('xx"a\nb"yy');
    expect(new TextDecoder().decode(escapedBytes(whole.subarray(2, 7)))).toBe('\\"a\\nb\\"');
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
          const got = new TextDecoder().decode(escapedBytes(src));
          expect(got).toBe(json(new TextDecoder().decode(src)));
        }
      }
    }
  });

  test("output of many chunks, written by the writer thread while the next is escaped, arrives whole and in order", async () => {
    // 5.5 MiB: six 1 MiB chunks, so both buffers are reused several times.
    // Through a pipe to a reader that starts late, holding the writer back,
    // so that a buffer reused before it was written would show.
    const part = `${"x".repeat(1000)}\u0000"é\n`;
    const text = part.repeat(Math.ceil((5.5 * 2 ** 20) / part.length));
    const dir = mkdtempSync(join(tmpdir(), "sandboxlib-escape-"));
    try {
      const [r, w] = pipe();
      const out = join(dir, "out");
      const cat = Bun.spawn(["sh", "-c", `sleep 0.2; cat > '${out}'`], { stdin: r });
      close(r);
      writeEscaped(w, new TextEncoder().encode(text));
      close(w);
      expect(await cat.exited).toBe(0);
      expect(readFileSync(out, "utf8")).toBe(json(text));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(escapedBytes(new Uint8Array(3 * 2 ** 20)).length).toBe(6 * 3 * 2 ** 20);
  });

  test("a reader that went away is a write error (EPIPE), for one chunk and for many", () => {
    for (const size of [10, 3 * 2 ** 20]) {
      const [r, w] = pipe();
      close(r);
      let error: unknown = null;
      try {
        writeEscaped(w, new Uint8Array(size).fill(0x61));
      } catch (e) {
        error = e;
      }
      close(w);
      expect(error).toBeInstanceOf(SysError);
      expect(error).toMatchObject({ call: "write", errno: 32 });
    }
  });
});

describe("failureFields", () => {
  test("the error is one line whatever the message quotes, as on stderr", () => {
    const fields = failureFields(new SandboxError("config", "line 2: bad value: a\nb\u2028c"), performance.now());
    expect(fields.error).toBe("line 2: bad value: a\\nb\\u2028c");
  });
});

describe("failure kind", () => {
  test("says whether a configuration, the set-up or the command failed", () => {
    const kindOf = (kind: ConstructorParameters<typeof SandboxError>[0]) => failureFields(new SandboxError(kind, "x"), performance.now()).failure;
    expect([kindOf("usage"), kindOf("config")]).toEqual(["config", "config"]);
    expect([kindOf("setup"), kindOf("output")]).toEqual(["setup", "setup"]);
    expect([kindOf("not-found"), kindOf("not-executable")]).toEqual(["command", "command"]);
  });
});
