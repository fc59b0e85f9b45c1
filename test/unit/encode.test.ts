// The step records native code reads: 64-bit fields from numbers and
// bigints, and strings as NUL-terminated UTF-8 in the same arena.
import { describe, expect, test } from "bun:test";
import { CString, type Pointer, ptr, read } from "bun:ffi";
import { encodeSteps, get64, put64 } from "../../src/native/encode.ts";
import { OPS, STEP } from "../../src/native/layout.ts";

const STEP_SIZE = STEP.size;
const { chdir, exec, mount, sethostname } = { chdir: OPS.chdir.args.at, exec: OPS.exec.args.at, mount: OPS.mount.args.at, sethostname: OPS.sethostname.args.at };

describe("64-bit fields", () => {
  test("numbers and bigints land as the int64 DataView would write", () => {
    const words = new Uint32Array(2);
    const view = new DataView(words.buffer);
    for (const n of [0, 1, -1, 2 ** 32, 2 ** 32 - 1, -(2 ** 40) - 3, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      put64(words, 0, n);
      expect(view.getBigInt64(0, true)).toBe(BigInt(n));
      expect(get64(words, 0)).toBe(n);
    }
    for (const b of [0n, (1n << 41n) - 1n, 2n ** 64n - 1n /* RLIM_INFINITY */]) {
      put64(words, 0, b);
      expect(view.getBigUint64(0, true)).toBe(BigInt.asUintN(64, b));
    }
  });
});

/** Reads back what native code would: the 64-bit field of a step, strings, pointer arrays. */
function reader(encoded: ReturnType<typeof encodeSteps>) {
  const words = new Uint32Array(encoded.buffer.buffer);
  const at = (n: number) => n as Pointer;
  const field = (step: number, offset: number) => get64(words, step * STEP_SIZE + offset);
  const string = (address: number) => new CString(at(address)).toString();
  const array = (address: number) => {
    const out: string[] = [];
    for (let i = 0; read.i64(at(address), 8 * i) !== 0n; i++) out.push(string(Number(read.i64(at(address), 8 * i))));
    return out;
  };
  return { field, string, array };
}

describe("encodeSteps", () => {
  test("strings are NUL-terminated UTF-8, arrays NULL-terminated; out fields start at -1", () => {
    const env = ["LANG=é€😀", `LONG=${"x".repeat(40_000)}`];
    const encoded = encodeSteps([
      { op: "chdir", path: "/src/été" },
      { op: "exec", file: "/bin/true", argv: ["true", "ü"], env, searchPath: "/bin" },
    ]);
    const { field, string, array } = reader(encoded);
    expect(string(field(0, chdir.path))).toBe("/src/été");
    expect(string(field(1, exec.file))).toBe("/bin/true");
    expect(array(field(1, exec.argv))).toEqual(["true", "ü"]);
    expect(array(field(1, exec.envp))).toEqual(env);
    expect(string(field(1, exec.search_path))).toBe("/bin");
    expect([encoded.out(0), encoded.out(1)]).toEqual([-1, -1]);
  });

  test("an ASCII plan (strings written at once): every string, empty ones too, where its pointer says; NULL stays NULL", () => {
    const env = Array.from({ length: 40 }, (_, i) => `VAR${i}=${"v".repeat(i)}`);
    const encoded = encodeSteps([
      { op: "mount", source: null, target: "/proc", fstype: "proc", data: "", flags: 14, inRoot: true, sourceInRoot: false },
      { op: "exec", file: "sh", argv: ["sh", "-c", "", "x"], env, searchPath: "/usr/bin:/bin" },
      { op: "sethostname", name: "sandbox" },
    ]);
    const { field, string, array } = reader(encoded);
    expect(field(0, mount.source)).toBe(0);
    expect([string(field(0, mount.target)), string(field(0, mount.fstype)), string(field(0, mount.data))]).toEqual(["/proc", "proc", ""]);
    // The opcode (1, mount) in the low word, the flags (1, target in root) in the high one.
    expect([STEP.at.op, STEP.at.flags]).toEqual([0, 4]);
    expect([field(0, 0), field(0, mount.mount_flags)]).toEqual([2 ** 32 + 1, 14]);
    expect(string(field(1, exec.file))).toBe("sh");
    expect(array(field(1, exec.argv))).toEqual(["sh", "-c", "", "x"]);
    expect(array(field(1, exec.envp))).toEqual(env);
    expect(string(field(1, exec.search_path))).toBe("/usr/bin:/bin");
    expect(string(field(2, sethostname.name))).toBe("sandbox");
  });

  test("64-bit fields: negative numbers, big numbers and bigints", () => {
    const encoded = encodeSteps([
      { op: "open-fd", path: "/x", flags: 2 ** 40 + 5, mode: 0o644, fd: -1 },
      { op: "rlimit", name: "nofile", resource: 7, soft: 2n ** 64n - 1n, hard: -2n },
    ]);
    const view = new DataView(encoded.buffer.buffer);
    const openFd = OPS["open-fd"].args.at;
    const rlimit = OPS.rlimit.args.at;
    expect([view.getBigInt64(openFd.flags, true), view.getBigInt64(openFd.mode, true), view.getBigInt64(openFd.fd, true)]).toEqual([2n ** 40n + 5n, 0o644n, -1n]);
    expect([view.getBigUint64(STEP_SIZE + rlimit.soft, true), view.getBigInt64(STEP_SIZE + rlimit.hard, true)]).toEqual([2n ** 64n - 1n, -2n]);
  });

  test("plans bigger than the last ones still fit (the arena grows)", () => {
    const small = encodeSteps([{ op: "chdir", path: "/" }]);
    expect(reader(small).string(reader(small).field(0, chdir.path))).toBe("/");
    const big = Array.from({ length: 300 }, (_, i) => `K${i}=${"y".repeat(200)}`);
    const encoded = encodeSteps([{ op: "exec", file: "/bin/true", argv: ["true"], env: big, searchPath: null }]);
    expect(reader(encoded).array(reader(encoded).field(0, exec.envp))).toEqual(big);
    expect(reader(encoded).field(0, exec.search_path)).toBe(0);
  });
});

describe("arena sizes", () => {
  test("plans of every size in turn (the arena sized from the last one, grown when short): every pointer inside the arena, every string whole", () => {
    for (let n = 1; n < 600; n += 13) {
      const argv = ["x".repeat(n), "", ""];
      const env = Array.from({ length: (n * 7) % 60 }, (_, i) => `V${i}=${"y".repeat((i * n) % 90)}`);
      const encoded = encodeSteps([
        { op: "exec", file: "/bin/true", argv, env, searchPath: "" },
        { op: "sethostname", name: "" },
      ]);
      const { field, string, array } = reader(encoded);
      expect(array(field(0, exec.argv))).toEqual(argv);
      expect(array(field(0, exec.envp))).toEqual(env);
      expect([string(field(0, exec.search_path)), string(field(1, sethostname.name))]).toEqual(["", ""]);
      const start = ptr(encoded.buffer);
      for (const p of [field(0, exec.file), field(0, exec.argv), field(0, exec.envp), field(0, exec.search_path), field(1, sethostname.name)]) {
        expect(p >= start && p < start + encoded.buffer.length).toBe(true);
      }
    }
  });
});
