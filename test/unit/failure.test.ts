// What sandboxlib says when it fails (issue 13, item 10): one line, the
// reason named, "internal error" only for what is truly a bug.
import { describe, expect, test } from "bun:test";
import { SandboxError, oneLine, shownValue } from "../../src/base/errors.ts";
import { asSandboxError, isClosedOutput, reasonOf, writingTo } from "../../src/cli/failure.ts";
import { SysError } from "../../src/native/libc.ts";

describe("messages are one line", () => {
  test("a value is shown as it is when plain, JSON-escaped in quotes otherwise", () => {
    expect(shownValue("/srv/root fs")).toBe("/srv/root fs");
    expect(shownValue("a\nb")).toBe('"a\\nb"');
    expect(shownValue('q"\r\u0000')).toBe('"q\\"\\r\\u0000"');
    expect(shownValue("\u007f\u0085\u2028")).toBe('"\\u007f\\u0085\\u2028"');
    expect(shownValue("héllo ✓")).toBe("héllo ✓");
  });

  test("oneLine escapes whatever a message quotes from deeper down", () => {
    expect(oneLine("cannot change directory to /a\nb: No such file")).toBe("cannot change directory to /a\\nb: No such file");
    expect(oneLine("tab\there\u009b")).toBe("tab\\there\\u009b");
  });
});

describe("failures become named errors", () => {
  test("a SandboxError stays as it is", () => {
    const e = new SandboxError("config", "x");
    expect(asSandboxError(e)).toBe(e);
  });

  test("errors of system calls name the call and the reason, with exit status 125", () => {
    const sys = asSandboxError(new SysError("write", 28, "fd 7"));
    expect([sys.message, sys.exitCode]).toEqual(["cannot write fd 7: No space left on device", 125]);
    const node = Object.assign(new Error("EROFS: read-only file system, mkdir '/x'"), { code: "EROFS", errno: -30, syscall: "mkdir", path: "/x" });
    expect(asSandboxError(node).message).toBe("cannot mkdir /x: Read-only file system");
    expect(reasonOf(node)).toBe("Read-only file system");
  });

  test("anything else is an internal error", () => {
    expect(asSandboxError(new TypeError("x is undefined")).message).toBe("internal error: x is undefined");
  });

  test("a failed write of sandboxlib's output names where; a reader gone (EPIPE) passes as it is", () => {
    expect(() => writingTo("--status-fd 5", () => { throw new SysError("write", 9, "fd 5"); })).toThrow("cannot write to --status-fd 5: Bad file descriptor");
    let thrown: unknown = null;
    try {
      writingTo("stdout", () => { throw new SysError("write", 32, "fd 1"); });
    } catch (e) {
      thrown = e;
    }
    expect(isClosedOutput(thrown)).toBe(true);
    expect(writingTo("stdout", () => 7)).toBe(7);
  });
});
