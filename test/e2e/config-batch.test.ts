// --config files and batch mode through the compiled executable.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, runCli } from "../helpers/cli.ts";
import { sleepers } from "../helpers/fixtures.ts";
import { hostMountinfo, isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";
import { eventually } from "../helpers/wait.ts";

requireRootNote("config-batch.test.ts");

let rootfs = "";
let scratch = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-config-"));
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(scratch, { recursive: true, force: true });
});

function configFile(name: string, value: unknown): string {
  const path = join(scratch, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

describe.skipIf(!isRoot)("--config", () => {
  test("a config with every Python parameter runs", async () => {
    const out = join(scratch, "out.log");
    const path = configFile("all.json", {
      command: ["sh", "-c", 'pwd; echo "foo=$foo home=${HOME:-unset}"; grep -c " /proc " /proc/mounts; echo err >&2; (exec 2>&-; echo x > /etc/x) || echo ro'],
      cwd: "/tmp",
      env: { foo: "bar" },
      filesystem_root: rootfs,
      filesystem_writable_paths: ["/tmp"],
      mounts: "isolated",
      extra_mounts: [[null, "/proc", "proc"], [null, "/tmp", "tmpfs", "size=1m"]],
      network: "isolated",
      stdout: { file: out },
      stderr: "stdout",
      timeout: 30,
      "cap-drop": ["NET_RAW"],
    });
    const r = await runCli(["run", "--config", path]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(out, "utf8")).toBe("/tmp\nfoo=bar home=unset\n1\nerr\nro\n");
  });

  test("command-line options override the config; a command given replaces it", async () => {
    const path = configFile("base.json", { command: ["echo", "from config"], filesystem_root: rootfs, hostname: "cfg" });
    expect((await runCli(["run", "--config", path])).stdout).toBe("from config\n");
    expect((await runCli(["run", "--config", path, "--hostname", "cli", "hostname"])).stdout).toBe("cli\n");
  });

  test("--config - reads stdin", async () => {
    const r = await runCli(["run", "--config", "-"], { stdin: JSON.stringify({ command: ["echo", "piped"], filesystem_root: rootfs }) });
    expect(r.stdout).toBe("piped\n");
  });

  test("each kind of error names the file and the JSON path, exit 125", async () => {
    const cases: [unknown, string][] = [
      [{ command: ["true"], filesystem_root: rootfs, extra_mounts: [[null, "/a", "tmpfs"], [null, "/b", "tmpfs"], ["x", "", "tmpfs"]] }, 'extra_mounts[2]: Mount point empty in mount entry ["x","","tmpfs"]'],
      [{ command: ["true"], bogus: 1 }, "bogus: unknown key"],
      [{ command: ["true"], timeout: "soon" }, "timeout: invalid value for --timeout: soon (expected a positive number of seconds)"],
      [{ command: 3 }, "command: expected a string or a non-empty list of strings"],
    ];
    for (const [value, message] of cases) {
      const path = configFile("bad.json", value);
      expect(await runCli(["run", "--config", path])).toEqual({ code: 125, stdout: "", stderr: `sandboxlib: ${path}: ${message}\n` });
    }
    writeFileSync(join(scratch, "broken.json"), "{ not json");
    expect((await runCli(["run", "--config", join(scratch, "broken.json")])).stderr).toStartWith(`sandboxlib: ${join(scratch, "broken.json")}: invalid JSON`);
    expect(await runCli(["run", "--config", "/nonexistent.json"])).toEqual({
      code: 125,
      stdout: "",
      stderr: "sandboxlib: cannot read config file: /nonexistent.json: No such file or directory\n",
    });
  });
});

describe.skipIf(!isRoot)("batch", () => {
  const batch = async (lines: string[], args: string[] = []) => {
    const proc = Bun.spawn([BIN, "batch", ...args], { stdin: Buffer.from(lines.join("\n")), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, err, results: out.trim().split("\n").map((l) => JSON.parse(l)) };
  };
  const job = (value: Record<string, unknown>) => JSON.stringify({ filesystem_root: rootfs, ...value });

  test("one result per line, in input order, tagged; failures do not stop the others", async () => {
    const { code, err, results } = await batch(
      [
        job({ id: "slow", command: ["sh", "-c", "sleep 0.3; echo slow"] }),
        "this is not json",
        job({ id: 7, command: ["sh", "-c", "echo fast; exit 3"] }),
        job({ command: ["no-such-command"] }),
        job({ command: ["true"], network: "sideways" }),
        job({ id: "last", command: ["echo", "done"] }),
      ],
      ["--jobs", "3"],
    );
    expect(code).toBe(0);
    expect(err).toBe("");
    expect(results.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(results[0]).toMatchObject({ id: "slow", exit_code: 0, stdout: "slow\n", setup_failed: false });
    expect(results[1]).toMatchObject({ exit_code: 125, setup_failed: true });
    expect(results[1].error).toStartWith("line 2: invalid JSON");
    expect(results[2]).toMatchObject({ id: 7, exit_code: 3, stdout: "fast\n" });
    expect(results[3]).toMatchObject({ exit_code: 127, setup_failed: true, error: "line 4: command not found: no-such-command" });
    expect(results[4]).toMatchObject({ exit_code: 125, error: 'line 5: network: expected "undefined" or "isolated"' });
    expect(results[5]).toMatchObject({ id: "last", exit_code: 0, stdout: "done\n" });
  });

  test("--jobs runs entries concurrently (they meet at a rendezvous)", async () => {
    // Each entry waits for the other's marker: only concurrent runs can both finish before the timeout.
    const dir = join(rootfs, "tmp");
    const meet = (me: string, other: string) =>
      job({ command: ["sh", "-c", `touch /tmp/${me}; i=0; while [ ! -e /tmp/${other} ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; [ -e /tmp/${other} ] && echo met`] });
    const { results } = await batch([meet("a", "b"), meet("b", "a")], ["--jobs", "2"]);
    expect(results.map((r) => r.stdout)).toEqual(["met\n", "met\n"]);
    rmSync(join(dir, "a"));
    rmSync(join(dir, "b"));
  });

  test("--jobs N never has more than N sandboxes at once", async () => {
    // Six entries, two at a time: the slots free as sandboxes end.
    const lines = Array.from({ length: 6 }, (_, i) => job({ id: i, command: ["sleep", "0.2"] }));
    const linesWithMarker = lines.map((l) => l.replace('"0.2"', '"0.21"'));
    const proc = Bun.spawn([BIN, "batch", "--jobs", "2"], { stdin: Buffer.from(`${linesWithMarker.join("\n")}\n`), stdout: "pipe", stderr: "pipe" });
    let most = 0;
    let seen = 0;
    const watch = setInterval(() => {
      const now = sleepers("0.21").length;
      most = Math.max(most, now);
      if (now > 0) seen++;
    }, 5);
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    clearInterval(watch);
    expect(code).toBe(0);
    expect(out.trim().split("\n").map((l) => JSON.parse(l).exit_code)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(seen).toBeGreaterThan(0);
    expect(most).toBe(2);
  });

  test("sandboxes set up side by side with different capabilities each get exactly theirs, and their init only KILL", async () => {
    // The first entry runs from the JavaScript thread; the others, started
    // while it sleeps, from spawner threads, which narrow their own bounding
    // set to their pool's: a thread of one set must never serve another.
    const caps = (extra: Record<string, unknown>, wait = "") =>
      job({ command: ["sh", "-c", `${wait}grep -E '^Cap(Bnd|Eff|Prm)' /proc/self/status /proc/1/status | tr -s '\\t' ' '`], extra_mounts: [[null, "/proc", "proc"]], ...extra });
    // Past 7 sets the pools run out: the rest share one that keeps every
    // capability, SYS_TIME (asked for last) included.
    const dropOne = ["CHOWN", "SETUID", "NET_RAW", "FOWNER", "AUDIT_WRITE"].map((name) => caps({ "cap-drop": [name] }));
    const { code, results } = await batch(
      [caps({}, "sleep 0.5; "), caps({}), caps({ "cap-add": ["SYS_PTRACE", "NET_ADMIN"] }), caps({ "cap-drop": ["ALL"] }), caps({ "cap-drop": ["KILL"] }), ...dropOne, caps({ "cap-add": ["SYS_TIME"] }), caps({ "cap-add": ["SYS_PTRACE", "NET_ADMIN"] }), caps({})],
      ["--jobs", "13"],
    );
    expect(code).toBe(0);
    const expected = (mask: number) => {
      const hex = mask.toString(16).padStart(16, "0");
      return `/proc/self/status:CapPrm: ${hex}\n/proc/self/status:CapEff: ${hex}\n/proc/self/status:CapBnd: ${hex}\n` +
        "/proc/1/status:CapPrm: 0000000000000020\n/proc/1/status:CapEff: 0000000000000020\n/proc/1/status:CapBnd: 0000000000000020\n";
    };
    const docker = 0xa00425fb; // Docker's default set without MKNOD
    const without = (...bits: number[]) => bits.reduce((m, bit) => m & ~(1 << bit), docker) >>> 0;
    const masks = [docker, docker, 0xa00c35fb, 0, without(5), without(0), without(7), without(13), without(3), without(29), (docker | (1 << 25)) >>> 0, 0xa00c35fb, docker];
    expect(results.map((r) => r.stdout)).toEqual(masks.map(expected));
  });

  test("SIGKILL of batch leaves no process and no mount, sandboxes set up by spawner threads included", async () => {
    // The first entry is spawned from the JavaScript thread; the others,
    // started while it runs, from spawner threads: PDEATHSIG follows those.
    const before = hostMountinfo();
    const lines = ["a", "b", "c"].map((id) => job({ id, command: ["sleep", "987654"], network: "isolated", extra_mounts: [[null, "/proc", "proc"]] }));
    const proc = Bun.spawn([BIN, "batch", "--jobs", "3"], { stdin: Buffer.from(`${lines.join("\n")}\n`), stdout: "ignore", stderr: "ignore" });
    try {
      await eventually(() => sleepers("987654").length === 3, "three sandboxes run");
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    await eventually(() => sleepers("987654").length === 0, "every sandbox died with sandboxlib");
    expect(hostMountinfo()).toBe(before);
  });

  test("SIGTERM to batch reaches every running sandbox; each result says so; the batch exits 143", async () => {
    const lines = ["a", "b", "c"].map((id) => job({ id, command: ["sleep", "987655"] }));
    const proc = Bun.spawn([BIN, "batch", "--jobs", "3"], { stdin: Buffer.from(`${lines.join("\n")}\n`), stdout: "pipe", stderr: "pipe" });
    await eventually(() => sleepers("987655").length === 3, "three sandboxes run");
    proc.kill("SIGTERM");
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(143);
    const results = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(results.map((r) => [r.id, r.exit_code])).toEqual([["a", 143], ["b", 143], ["c", 143]]);
  });

  test("batch starts itself again without the optimizing JIT and Bun's GC timer; its commands do not inherit those settings", async () => {
    const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    const envCount = job({ command: ["sh", "-c", "env | grep -c -E 'BUN_JSC|BUN_GC|SANDBOXLIB_ENGINE' || true"] });
    const proc = Bun.spawn([BIN, "batch"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    // /proc/PID/environ is what the process's last exec was given.
    await eventually(() => environOf(proc.pid).includes("BUN_JSC_useDFGJIT=0"), "the batch started itself again");
    expect(environOf(proc.pid)).toContain("BUN_GC_TIMER_DISABLE=1");
    proc.stdin.write(`${envCount}\n`);
    proc.stdin.end();
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ exit_code: 0, stdout: "0\n" });
    // An engine option of the caller's own is kept, and the restart (for the other one) does not override it.
    const own = Bun.spawn([BIN, "batch"], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { ...process.env, BUN_JSC_useDFGJIT: "1" } });
    own.stdin.write(`${job({ command: ["sh", "-c", "env | grep -E 'BUN_JSC|BUN_GC'"] })}\n`);
    own.stdin.end();
    const [ownOut, ownCode] = await Promise.all([new Response(own.stdout).text(), own.exited]);
    expect(ownCode).toBe(0);
    expect(JSON.parse(ownOut)).toMatchObject({ exit_code: 0, stdout: "BUN_JSC_useDFGJIT=1\n" });
  });

  test("batch reads a file too; a missing file is a usage error", async () => {
    const path = join(scratch, "jobs.jsonl");
    writeFileSync(path, `${job({ command: ["echo", "from file"] })}\n`);
    const r = await runCli(["batch", path]);
    expect(JSON.parse(r.stdout)).toMatchObject({ line: 1, stdout: "from file\n" });
    expect((await runCli(["batch", "--jobs", "x"])).code).toBe(125);
  });

  test("a reader that stops reading (| head) ends the batch quietly with 141, as SIGPIPE would", async () => {
    const lines = Array.from({ length: 200 }, () => job({ command: ["echo", "x".repeat(1000)] }));
    const sh = `${BIN} batch | head -c 100 >/dev/null; echo "status \${PIPESTATUS[0]}" >&2`;
    const proc = Bun.spawn(["bash", "-c", sh], { stdin: Buffer.from(lines.join("\n")), stdout: "pipe", stderr: "pipe" });
    const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "status 141\n" });
  });
});
