// The executable against what a careless or hostile caller can hand it
// (issue 13, items 4, 7, 9 and 10): descriptors that are not the caller's,
// deadlines of any size, a batch whose first line is slow, values with
// newlines and NUL bytes, a full or closed stderr, signals to a batch, and
// BUN_OPTIONS.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, requireBinary, runCli } from "../helpers/cli.ts";
import { sleepers } from "../helpers/fixtures.ts";
import { isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";
import { eventually } from "../helpers/wait.ts";

requireRootNote("cli-robustness.test.ts");

let rootfs = "";
let scratch = "";
beforeAll(() => {
  if (!isRoot) return;
  requireBinary();
  rootfs = makeRootfs();
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-robust-"));
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(scratch, { recursive: true, force: true });
});

const run = (args: string[], opts?: Parameters<typeof runCli>[1]) => runCli(["run", "--root", rootfs, ...args], opts);
const job = (value: Record<string, unknown>) => JSON.stringify({ filesystem_root: rootfs, ...value });

/** Runs the executable with `fds` as its descriptors 3, 4, ... ("ignore": closed). */
async function runWithFds(args: string[], fds: (number | "ignore")[], stdin?: string) {
  const proc = Bun.spawn([BIN, ...args], {
    stdio: [stdin === undefined ? "ignore" : Buffer.from(stdin), "pipe", "pipe", ...fds],
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** A file for the caller's end of a descriptor, opened for writing. */
function outputFile(name: string): { path: string; fd: number } {
  const path = join(scratch, name);
  return { path, fd: openSync(path, "w") };
}

const notInherited = (option: string, fd: number) => `sandboxlib: invalid value for ${option}: ${fd} (not a descriptor inherited from the caller)\n`;

describe.skipIf(!isRoot)("C4: only descriptors inherited from the caller are handed over", () => {
  test("Bun's own epoll (3) and eventfd (4) are refused for --pass-fd and --status-fd", async () => {
    for (const fd of [3, 4]) {
      expect(await run(["--pass-fd", String(fd), "true"])).toEqual({ code: 125, stdout: "", stderr: notInherited("--pass-fd", fd) });
      expect(await run(["--status-fd", String(fd), "true"])).toEqual({ code: 125, stdout: "", stderr: notInherited("--status-fd", fd) });
    }
    // A config file and a batch line get the same answer.
    const config = join(scratch, "pass4.json");
    writeFileSync(config, JSON.stringify({ command: ["true"], filesystem_root: rootfs, "pass-fd": [4] }));
    expect(await runCli(["run", "--config", config])).toEqual({ code: 125, stdout: "", stderr: notInherited("--pass-fd", 4) });
    const batch = await runCli(["batch"], { stdin: `${job({ command: ["true"], "pass-fd": 3 })}\n` });
    expect(JSON.parse(batch.stdout)).toMatchObject({ exit_code: 125, setup_failed: true, error: "line 1: invalid value for --pass-fd: 3 (not a descriptor inherited from the caller)" });
  });

  test("the caller's 3 and 7 are passed; Bun's, which then sit at 4 and 5, are not", async () => {
    const three = outputFile("fd3");
    const seven = outputFile("fd7");
    try {
      const fds: (number | "ignore")[] = [three.fd, "ignore", "ignore", "ignore", seven.fd];
      const passed = await runWithFds(["run", "--root", rootfs, "--pass-fd", "3", "--pass-fd", "7", "sh", "-c", "echo three >&3; echo seven >&7"], fds);
      expect(passed).toEqual({ code: 0, stdout: "", stderr: "" });
      expect([readFileSync(three.path, "utf8"), readFileSync(seven.path, "utf8")]).toEqual(["three\n", "seven\n"]);
      for (const fd of [4, 5]) expect((await runWithFds(["run", "--root", rootfs, "--pass-fd", String(fd), "true"], fds)).stderr).toBe(notInherited("--pass-fd", fd));
    } finally {
      closeSync(three.fd);
      closeSync(seven.fd);
    }
  });

  test("batch, which starts itself again, still hands the caller's descriptor to a line", async () => {
    const seven = outputFile("batch-fd7");
    try {
      const line = job({ command: ["sh", "-c", "echo from-batch >&7"], "pass-fd": [7] });
      const r = await runWithFds(["batch"], ["ignore", "ignore", "ignore", "ignore", seven.fd], `${line}\n`);
      expect(JSON.parse(r.stdout)).toMatchObject({ exit_code: 0, setup_failed: false });
      expect(readFileSync(seven.path, "utf8")).toBe("from-batch\n");
    } finally {
      closeSync(seven.fd);
    }
  });
});

describe.skipIf(!isRoot)("C7: deadlines of any size", () => {
  test("--timeout 3000000 lets the command finish, with no warning", async () => {
    expect(await run(["--timeout", "3000000", "sh", "-c", "sleep 0.2; echo done"])).toEqual({ code: 0, stdout: "done\n", stderr: "" });
  });

  test("--kill-after 3000000 does not follow SIGTERM with an early SIGKILL", async () => {
    // The command takes its time to stop after SIGTERM; a SIGKILL 1 ms
    // later (the overflowed timer) would make the status 137.
    const r = await run(["--timeout", "0.3", "--kill-after", "3000000", "sh", "-c", "trap 'sleep 0.3; exit 7' TERM; while :; do sleep 0.05; done"]);
    expect(r).toEqual({ code: 124, stdout: "", stderr: "sandboxlib: the command timed out after 0.3s\n" });
  });

  test("absurd values are usage errors naming the option", async () => {
    expect(await run(["--timeout", "185542587187201", "true"])).toEqual({
      code: 125,
      stdout: "",
      stderr: "sandboxlib: invalid value for --timeout: 185542587187201 (expected a positive number of seconds, at most 185542587187200)\n",
    });
    const config = join(scratch, "absurd.json");
    writeFileSync(config, '{"command": ["true"], "kill-after": 1e300}');
    expect(await runCli(["run", "--config", config])).toEqual({
      code: 125,
      stdout: "",
      stderr: `sandboxlib: ${config}: kill-after: invalid value for --kill-after: 1e+300 (expected a positive number of seconds)\n`,
    });
  });
});

describe.skipIf(!isRoot)("C9: batch holds a bounded number of finished results", () => {
  test("behind a slow first line, later lines stop starting once 64 MiB of results wait; all come out in order", async () => {
    // Line 1 waits for a gate; each later line marks that it started, then
    // prints 4 MB. 64 MiB hold 16 such results (the 17th crosses the bound).
    const markers = join(rootfs, "tmp/started");
    mkdirSync(markers);
    const lines = [job({ command: ["sh", "-c", "while [ ! -e /tmp/gate ]; do sleep 0.05; done; echo first"] })];
    const count = 30;
    for (let i = 2; i <= count; i++) lines.push(job({ command: ["sh", "-c", `touch /tmp/started/${i}; yes abcdefg | head -c 4000000`] }));
    const outPath = join(scratch, "bounded.jsonl");
    const out = openSync(outPath, "w");
    const proc = Bun.spawn([BIN, "batch", "--jobs", "2"], { stdin: Buffer.from(`${lines.join("\n")}\n`), stdout: out, stderr: "pipe" });
    try {
      const started = () => readdirSync(markers).length;
      await eventually(() => started() >= 17, "the lines behind the slow one run until the bound");
      // Given time, an unbounded batch starts every line (and holds them all).
      await Bun.sleep(1000);
      expect(started()).toBeLessThanOrEqual(17 + 2);
      writeFileSync(join(rootfs, "tmp/gate"), "");
      expect(await proc.exited).toBe(0);
    } finally {
      proc.kill("SIGKILL");
      closeSync(out);
    }
    const results = readFileSync(outPath, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { line: number; exit_code: number; stdout: string });
    expect(results.map((r) => r.line)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(results.every((r) => r.exit_code === 0)).toBe(true);
    expect(results.slice(1).every((r) => r.stdout.length === 4_000_000)).toBe(true);
  });
});

describe.skipIf(!isRoot)("C10: messages", () => {
  test("a value with a newline is shown JSON-escaped, on one line", async () => {
    expect(await run(["--timeout", "1\n2", "true"])).toEqual({ code: 125, stdout: "", stderr: 'sandboxlib: invalid value for --timeout: "1\\n2" (expected a positive number of seconds)\n' });
    expect((await runCli(["run", "--bo\ngus"])).stderr).toBe('sandboxlib: unknown option: "--bo\\ngus"\n');
    // A message from deeper down quoting a path is one line too.
    const r = await run(["--cwd", "/no\nwhere", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toStartWith("sandboxlib: cannot change directory to /no\\nwhere: ");
    expect(r.stderr.indexOf("\n")).toBe(r.stderr.length - 1);
  });

  test("output that cannot be written (ENOSPC, a bad --status-fd) is named, never an internal error", async () => {
    const full = openSync("/dev/full", "w");
    const readOnly = openSync("/dev/null", "r");
    try {
      const version = Bun.spawnSync([BIN, "--version"], { stdout: full, stderr: "pipe" });
      expect([version.exitCode, version.stderr.toString()]).toEqual([125, "sandboxlib: cannot write to stdout: No space left on device\n"]);
      const json = Bun.spawnSync([BIN, "run", "--root", rootfs, "--json", "true"], { stdout: full, stderr: "pipe" });
      expect([json.exitCode, json.stderr.toString()]).toEqual([125, "sandboxlib: cannot write to stdout: No space left on device\n"]);
      const status = await runWithFds(["run", "--root", rootfs, "--status-fd", "3", "true"], [full]);
      expect(status).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: cannot write to --status-fd 3: No space left on device\n" });
      const unwritable = await runWithFds(["run", "--root", rootfs, "--status-fd", "3", "true"], [readOnly]);
      expect(unwritable).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: cannot write to --status-fd 3: Bad file descriptor\n" });
    } finally {
      closeSync(full);
      closeSync(readOnly);
    }
  });

  test("a full state directory (ENOSPC) is a named, one-line failure, never an internal error", async () => {
    const state = join(scratch, "full-state");
    mkdirSync(state);
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", state]).exitCode).toBe(0);
    try {
      Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(state, "fill")}`, "bs=4k", "count=4"]);
      const r = await run(["--tmpfs", "/created-here", "true"], { env: { SANDBOXLIB_STATE_DIR: state } });
      expect(r.code).toBe(125);
      expect(r.stderr).toStartWith("sandboxlib: ");
      expect(r.stderr).toContain("No space left on device");
      expect(r.stderr).not.toContain("internal error");
      expect(r.stderr.indexOf("\n")).toBe(r.stderr.length - 1);
    } finally {
      Bun.spawnSync(["umount", state]);
    }
  });

  test("with stderr full or closed, the exit status is what it would have been", async () => {
    const full = openSync("/dev/full", "w");
    try {
      const status = (args: string[]) => Bun.spawnSync([BIN, "run", "--root", rootfs, ...args], { stdout: "ignore", stderr: full }).exitCode;
      expect(status(["--bogus", "true"])).toBe(125);
      expect(status(["sh", "-c", "exit 3"])).toBe(3);
      expect(status(["--timeout", "0.1", "sleep", "5"])).toBe(124);
    } finally {
      closeSync(full);
    }
    const closed = (args: string) => Bun.spawnSync(["sh", "-c", `exec 2>&-; exec ${BIN} run --root ${rootfs} ${args}`]).exitCode;
    expect(closed("--bogus true")).toBe(125);
    expect(closed("sh -c 'exit 3'")).toBe(3);
  });

  test("a NUL byte in any string of a config file or batch line is refused, naming the field", async () => {
    const config = join(scratch, "nul.json");
    writeFileSync(config, JSON.stringify({ command: ["pwd"], filesystem_root: rootfs, cwd: "/tmp\u0000/etc" }));
    expect(await runCli(["run", "--config", config])).toEqual({ code: 125, stdout: "", stderr: `sandboxlib: ${config}: cwd: contains a NUL byte\n` });
    const lines = [
      job({ command: ["echo", "a\u0000b"] }),
      job({ command: ["true"], env: { PATH: "/bin", "X\u0000Y": "1" } }),
      job({ command: ["true"], env: { PATH: "/bin\u0000:/usr/bin" } }),
      job({ command: ["true"], extra_mounts: [[null, "/tmp\u0000x", "tmpfs", ""]] }),
      job({ command: ["true"], "cap-add": ["CHOWN\u0000"] }),
      job({ command: ["echo", "fine"] }),
    ];
    const r = await runCli(["batch"], { stdin: `${lines.join("\n")}\n` });
    expect(r.code).toBe(0);
    const results = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { exit_code: number; error?: string; stdout: string | null });
    expect(results.map((x) => x.error ?? x.stdout)).toEqual([
      "line 1: command[1]: contains a NUL byte",
      'line 2: env["X\\u0000Y"]: the name contains a NUL byte',
      "line 3: env.PATH: contains a NUL byte",
      "line 4: extra_mounts[0][1]: contains a NUL byte",
      "line 5: cap-add[0]: contains a NUL byte",
      "fine\n",
    ]);
    expect(results.map((x) => x.exit_code)).toEqual([125, 125, 125, 125, 125, 0]);
  });

  for (const [signal, code] of [["SIGINT", 130], ["SIGHUP", 129]] as const) {
    test(`${signal} to a batch still reading its input: the started lines' results, then exit ${code}`, async () => {
      const marker = String(987660 + code);
      const proc = Bun.spawn([BIN, "batch", "--jobs", "2"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      proc.stdin.write(`${job({ command: ["echo", "quick"] })}\n${job({ command: ["sleep", marker] })}\n`);
      proc.stdin.flush();
      // The input stays open: the batch waits for more lines when the signal comes.
      await eventually(() => sleepers(marker).length === 1, "the second line runs");
      proc.kill(signal);
      const [out, exit] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(exit).toBe(code);
      const results = out.trim().split("\n").map((l) => JSON.parse(l) as { line: number; exit_code: number });
      expect(results.map((r) => [r.line, r.exit_code])).toEqual([[1, 0], [2, code]]);
    });
  }

  test("BUN_OPTIONS: a --preload in it never runs; any other option is refused", async () => {
    const ran = join(scratch, "preload-ran");
    const preload = join(scratch, "preload.js");
    writeFileSync(preload, `require("node:fs").writeFileSync(${JSON.stringify(ran)}, "ran");\n`);
    for (const options of [`--preload ${preload}`, `--preload=${preload}`, `--require ${preload}`, `--import ${preload}`]) {
      const r = await runCli(["--version"], { env: { BUN_OPTIONS: options } });
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe("");
      expect(existsSync(ran)).toBe(false);
    }
    expect(await runCli(["--version"], { env: { BUN_OPTIONS: "--smol" } })).toEqual({
      code: 125,
      stdout: "",
      stderr: "sandboxlib: BUN_OPTIONS is set: the sandboxlib executable does not run with Bun runtime options from the environment (unset BUN_OPTIONS)\n",
    });
    expect((await runCli(["--version"], { env: { BUN_OPTIONS: "" } })).code).toBe(0);
  });
});
