// Captured streams: most commands are over before their pipes are read, and
// their output is then read in one go, without a stream; the others get a
// stream after a short delay. This process plays the command here, writing
// into the ends a sandbox would get. Real pipes; no root needed.
import { describe, expect, test } from "bun:test";
import { CAPTURE, STDOUT } from "../../src/config/types.ts";
import { toSandboxConfig } from "../../src/config/options.ts";
import { close, dupAbove2, isOpenFd, writeAll } from "../../src/native/libc.ts";
import { CAPTURE_STREAM_DELAY_MS } from "../../src/supervise/capture.ts";
import { prepareStdio } from "../../src/supervise/stdio.ts";

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes));

function captured(stderr: typeof CAPTURE | typeof STDOUT = CAPTURE) {
  return prepareStdio(toSandboxConfig(["true"], { stdin: null, stdout: CAPTURE, stderr }));
}

describe("captured streams", () => {
  test("output of a command that is over is read whole once it has exited", async () => {
    const stdio = captured();
    writeAll(stdio.childFds[1], utf8.encode("out ".repeat(1000)));
    writeAll(stdio.childFds[2], utf8.encode("err"));
    stdio.commandStarted();
    stdio.commandExited();
    // Read then and there: no stream, no wait for the delay.
    let settled = false;
    void Promise.all([stdio.stdout, stdio.stderr]).then(() => (settled = true));
    await Bun.sleep(0);
    expect(settled).toBe(true);
    expect([text(await stdio.stdout), text(await stdio.stderr)]).toEqual(["out ".repeat(1000), "err"]);
  });

  test("stderr sent to stdout is one stream, in the order written", async () => {
    const stdio = captured(STDOUT);
    expect(stdio.childFds[2]).toBe(stdio.childFds[1]);
    writeAll(stdio.childFds[1], utf8.encode("a"));
    writeAll(stdio.childFds[2], utf8.encode("b"));
    stdio.commandStarted();
    stdio.commandExited();
    expect([text(await stdio.stdout), await stdio.stderr]).toEqual(["ab", null]);
  });

  test("a pipe still held open after the exit (something the command left) is read to its end, in order", async () => {
    const stdio = captured();
    const left = dupAbove2(stdio.childFds[1]);
    writeAll(left, utf8.encode("first "));
    stdio.commandStarted();
    stdio.commandExited(); // reads "first ", finds the pipe still open
    let settled = false;
    void stdio.stdout.then(() => (settled = true));
    await Bun.sleep(2 * CAPTURE_STREAM_DELAY_MS);
    expect(settled).toBe(false);
    writeAll(left, utf8.encode("second"));
    close(left);
    expect(text(await stdio.stdout)).toBe("first second");
    expect(text(await stdio.stderr)).toBe("");
  });

  test("a running command that writes more than a pipe holds is read by a stream before it exits", async () => {
    const stdio = captured();
    const size = 4 * 1024 * 1024;
    // Never read, the writer would block at 64 KiB and never exit.
    const writer = Bun.spawn(["head", "-c", String(size), "/dev/zero"], { stdin: "ignore", stdout: stdio.childFds[1], stderr: "inherit" });
    stdio.commandStarted();
    expect(await writer.exited).toBe(0);
    stdio.commandExited();
    expect((await stdio.stdout)?.length).toBe(size);
  });

  test("output past the limit found when reading after the exit is reported as an overflow", async () => {
    process.env.SANDBOXLIB_CAPTURE_LIMIT = "1000";
    try {
      let overflows = 0;
      const stdio = prepareStdio(toSandboxConfig(["true"], { stdin: null, stdout: CAPTURE, stderr: CAPTURE }), () => overflows++);
      writeAll(stdio.childFds[2], new Uint8Array(5000));
      stdio.commandStarted();
      stdio.commandExited();
      await stdio.stderr;
      expect(overflows).toBe(1);
      expect(stdio.overflowed()).toEqual({ stream: "stderr", limit: 1000 });
    } finally {
      delete process.env.SANDBOXLIB_CAPTURE_LIMIT;
    }
  });

  test("after a failure nothing stays open and nothing waits", async () => {
    const stdio = captured();
    writeAll(stdio.childFds[1], utf8.encode("partial"));
    stdio.closeAll();
    // (stdin is /dev/null, opened once for every sandbox and kept.)
    expect([stdio.childFds[1], stdio.childFds[2]].map(isOpenFd)).toEqual([false, false]);
    expect(text(await stdio.stdout)).toBe("partial");
    expect(text(await stdio.stderr)).toBe("");
  });

  test("/dev/null is opened once for all sandboxes, for reading and for writing, and stays open", () => {
    const config = toSandboxConfig(["true"], { stdin: null, stdout: null, stderr: null });
    const [a, b] = [prepareStdio(config), prepareStdio(config)];
    expect(a.childFds).toEqual(b.childFds);
    expect(a.childFds[1]).toBe(a.childFds[2]);
    expect(a.childFds[0]).not.toBe(a.childFds[1]);
    a.closeAll();
    b.closeAll();
    expect(a.childFds.map(isOpenFd)).toEqual([true, true, true]);
  });
});
