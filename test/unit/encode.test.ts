// The step records native code reads: 64-bit fields from numbers and
// bigints, and strings as NUL-terminated UTF-8 in the same arena.
import { describe, expect, test } from "bun:test";
import { CString, type Pointer, read } from "bun:ffi";
import { encodeSteps, getInt64, setInt64, STEP_SIZE } from "../../src/native/encode.ts";

describe("64-bit fields", () => {
  test("numbers and bigints land as the int64 DataView would write", () => {
    const view = new DataView(new ArrayBuffer(8));
    for (const n of [0, 1, -1, 2 ** 32, 2 ** 32 - 1, -(2 ** 40) - 3, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      setInt64(view, 0, n);
      expect(view.getBigInt64(0, true)).toBe(BigInt(n));
      expect(getInt64(view, 0)).toBe(n);
    }
    for (const b of [0n, (1n << 41n) - 1n, 2n ** 64n - 1n /* RLIM_INFINITY */]) {
      setInt64(view, 0, b);
      expect(view.getBigUint64(0, true)).toBe(BigInt.asUintN(64, b));
    }
  });
});

describe("encodeSteps", () => {
  test("strings are NUL-terminated UTF-8, arrays NULL-terminated; out fields start at -1", () => {
    const env = ["LANG=é€😀", `LONG=${"x".repeat(40_000)}`];
    const encoded = encodeSteps([
      { op: "chdir", path: "/src/été" },
      { op: "exec", file: "/bin/true", argv: ["true", "ü"], env, searchPath: "/bin" },
    ]);
    const view = new DataView(encoded.buffer.buffer);
    const at = (n: number) => n as Pointer;
    const field = (step: number, offset: number) => getInt64(view, step * STEP_SIZE + offset);
    const string = (address: number) => new CString(at(address)).toString();
    const array = (address: number) => {
      const out: string[] = [];
      for (let i = 0; read.i64(at(address), 8 * i) !== 0n; i++) out.push(string(Number(read.i64(at(address), 8 * i))));
      return out;
    };
    expect(string(field(0, 40))).toBe("/src/été");
    expect(string(field(1, 40))).toBe("/bin/true");
    expect(array(field(1, 48))).toEqual(["true", "ü"]);
    expect(array(field(1, 56))).toEqual(env);
    expect(string(field(1, 64))).toBe("/bin");
    expect([encoded.out(0), encoded.out(1)]).toEqual([-1, -1]);
  });
});
