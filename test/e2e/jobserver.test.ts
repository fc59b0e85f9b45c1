// --jobserver: the caller's make jobserver reaches the command (issue 17).
// A shell stands in for make where the root (busybox) has none: it holds the
// jobserver open, puts tokens in, names it in MAKEFLAGS and runs sandboxlib;
// inside, a shell takes the tokens and gives others back. Then a real make,
// where the host has one, with the host as the root.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMakeflags } from "../../src/cli/jobserver.ts";
import { BIN, requireBinary } from "../helpers/cli.ts";
import { isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("jobserver.test.ts");

let rootfs = "";
let scratch = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-jobserver-"));
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs `script` in a host shell with `$SANDBOXLIB` and `$ROOT` set; its exit code and output. */
async function shell(script: string, env: Record<string, string> = {}) {
  requireBinary();
  const proc = Bun.spawn(["sh", "-c", script], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SANDBOXLIB: BIN, ROOT: rootfs, ...env }, stdout: "pipe", stderr: "pipe", cwd: scratch });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

describe("MAKEFLAGS", () => {
  test("the last --jobserver-auth before '--' (or the older --jobserver-fds): descriptors, or a fifo", () => {
    expect(parseMakeflags(" -j4 --jobserver-auth=3,4")).toEqual({ kind: "fds", read: 3, write: 4, auth: "3,4" });
    expect(parseMakeflags("-j --jobserver-fds=5,6")).toEqual({ kind: "fds", read: 5, write: 6, auth: "5,6" });
    expect(parseMakeflags("j --jobserver-auth=fifo:/tmp/GMfifo42")).toEqual({ kind: "fifo", path: "/tmp/GMfifo42", auth: "fifo:/tmp/GMfifo42" });
    expect(parseMakeflags("--jobserver-auth=3,4 --jobserver-auth=7,8")).toMatchObject({ read: 7, write: 8 });
    expect(parseMakeflags("-k -- X=--jobserver-auth=3,4")).toBeNull();
    expect(parseMakeflags("-k")).toBeNull();
    expect(parseMakeflags("--jobserver-auth=banana")).toContain("is neither R,W");
    expect(parseMakeflags("--jobserver-auth=fifo:relative")).toContain("is neither R,W");
  });
});

describe.skipIf(!isRoot)("--jobserver", () => {
  test("descriptors: passed on, with MAKEFLAGS, even with --clear-env; the tokens are the caller's", async () => {
    const r = await shell(`mkfifo js; exec 8<>js 9<>js; printf +++ >&9
      MAKEFLAGS="-j4 --jobserver-auth=8,9" "$SANDBOXLIB" run --root "$ROOT" --clear-env --jobserver -- sh -c 'echo "$MAKEFLAGS"; head -c3 <&8; echo; printf ab >&9'
      echo "exit $?"; head -c2 <&8; echo`);
    expect(r).toEqual({ code: 0, stdout: "-j4 --jobserver-auth=8,9\n+++\nexit 0\nab\n", stderr: "" });
  });

  test("a fifo: bound at its path and writable under --read-only, with MAKEFLAGS; its mount point is removed after", async () => {
    const fifo = join(scratch, "GMfifo1");
    const r = await shell(`mkfifo "${fifo}"; exec 8<>"${fifo}"; printf ++ >&8
      MAKEFLAGS="-j3 --jobserver-auth=fifo:${fifo}" "$SANDBOXLIB" run --root "$ROOT" --read-only --clear-env --jobserver -- sh -c 'echo "$MAKEFLAGS"; head -c2 < "${fifo}"; echo; printf cd > "${fifo}"'
      echo "exit $?"; head -c2 <&8; echo`);
    expect(r).toEqual({ code: 0, stdout: `-j3 --jobserver-auth=fifo:${fifo}\n++\nexit 0\ncd\n`, stderr: "" });
    expect(existsSync(join(rootfs, fifo))).toBe(false);
  });

  test("without the option nothing changes: --clear-env drops MAKEFLAGS and the descriptors stay closed", async () => {
    const r = await shell(`mkfifo js2; exec 8<>js2 9<>js2
      MAKEFLAGS="-j4 --jobserver-auth=8,9" "$SANDBOXLIB" run --root "$ROOT" --clear-env -- sh -c 'echo "[$MAKEFLAGS]"; (: <&8) 2>/dev/null && echo open || echo closed'`);
    expect(r).toEqual({ code: 0, stdout: "[]\nclosed\n", stderr: "" });
  });

  test("a malformed MAKEFLAGS, closed descriptors, a missing fifo: one line of warning each, and the command runs without", async () => {
    const runWith = (makeflags: string) => shell(`"$SANDBOXLIB" run --root "$ROOT" --jobserver -- echo ran`, { MAKEFLAGS: makeflags });
    const warning = (why: string) => `sandboxlib: warning: --jobserver: ${why}; the command runs without the caller's jobserver\n`;
    expect(await runWith("--jobserver-auth=banana")).toEqual({
      code: 0, stdout: "ran\n",
      stderr: warning("malformed MAKEFLAGS: --jobserver-auth=banana is neither R,W (two descriptors) nor fifo:PATH (an absolute path)"),
    });
    expect(await runWith("-j4 --jobserver-auth=40,41")).toEqual({ code: 0, stdout: "ran\n", stderr: warning("descriptor 40 is not open") });
    expect(await runWith("--jobserver-auth=fifo:/nonexistent/GMfifo")).toEqual({ code: 0, stdout: "ran\n", stderr: warning("/nonexistent/GMfifo does not exist") });
    // No jobserver named (make without -j): nothing to say.
    expect(await runWith("-k")).toEqual({ code: 0, stdout: "ran\n", stderr: "" });
  });

  const make = ["/usr/bin/make", "/bin/make"].find((p) => existsSync(p));
  test.skipIf(!make)("a real make -j4 on the host (root /): the make inside shares its jobs instead of falling back to -j1", async () => {
    writeFileSync(join(scratch, "outer.mk"), "all:\n\t+$(SANDBOXLIB) run $(OPTS) -- $(MAKE) -s -f inner.mk\n");
    writeFileSync(join(scratch, "inner.mk"), "all: a b c\na b c:\n\t@sleep 0.6\n");
    const timed = async (opts: string) => {
      const started = performance.now();
      const r = await shell(`${make} -s -j4 -f outer.mk SANDBOXLIB="$SANDBOXLIB" OPTS="${opts}"`);
      return { ...r, seconds: (performance.now() - started) / 1000 };
    };
    const shared = await timed("--clear-env --env PATH=/usr/bin:/bin --jobserver");
    expect([shared.code, shared.stderr]).toEqual([0, ""]);
    // Control: without it the descriptors are closed and the inner make says so.
    const alone = await timed("");
    expect(alone.stderr).toContain("jobserver unavailable");
    expect(shared.seconds).toBeLessThan(alone.seconds - 0.6);
  }, 30_000);
});
