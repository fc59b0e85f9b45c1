// cgroup limits and measurements, and the mount-point journal, through the
// compiled executable (busybox root, as root): sandboxlib survives a memory
// limit of any size, reports the command's own OOM kill and peak memory,
// works where cgroups are read-only, and leaves no created mount point
// behind when it is SIGKILLed during set-up or cannot write its journal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, flock, LOCK_EX, LOCK_NB, O_RDONLY, open, stat } from "../../src/native/libc.ts";
import { BIN, type CliResult, requireBinary, runCli } from "../helpers/cli.ts";
import { isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";
import { eventually } from "../helpers/wait.ts";

requireRootNote("cgroups.test.ts");

let rootfs = "";
let scratch = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-cgroups-"));
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(scratch, { recursive: true, force: true });
});

const BACKENDS = ["linux", "chroot"] as const;
const MIN = 6 * 1024 * 1024;
/** busybox awk doubling a string up to 128 MiB: about 270 MB resident at its peak. */
const ALLOCATE = ["awk", 'BEGIN { s = "xxxxxxxxxxxxxxxx"; for (i = 0; i < 23; i++) s = s s; print length(s) }'];
const ALLOCATE_FOREVER = ["awk", 'BEGIN { s = "xxxxxxxxxxxxxxxx"; while (1) s = s s }'];
const belowMinimum = (bytes: number) => `sandboxlib: invalid value for --memory: ${bytes} bytes (below the minimum of ${MIN} bytes, 6M, that a sandbox needs to start)\n`;
const oomLine = (limit: number) => `sandboxlib: the command was killed: out of memory (limit ${limit} bytes)\n`;

function scratchFile(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

/** Runs the executable with its output; `fds` are extra descriptors from 3 up. */
async function spawnCli(args: string[], options: { stdin?: string; env?: Record<string, string>; prefix?: string[]; fds?: (number | "ignore")[] } = {}): Promise<CliResult> {
  requireBinary();
  const proc = Bun.spawn([...(options.prefix ?? []), BIN, ...args], {
    stdio: [options.stdin === undefined ? "ignore" : Buffer.from(options.stdin), "pipe", "pipe", ...(options.fds ?? [])],
    env: { ...process.env, ...options.env } as Record<string, string>,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text(), proc.exited]);
  return { code, stdout, stderr };
}

/**
 * What a container gives: the executable runs in a mount namespace of its
 * own where /sys/fs/cgroup and every hierarchy under it are read-only.
 */
const READ_ONLY_CGROUPS = [
  "unshare",
  "-m",
  "sh",
  "-c",
  'for m in $(findmnt -rn -o TARGET | grep ^/sys/fs/cgroup); do mount -o remount,bind,ro "$m" || exit 99; done; exec "$@"',
  "sh",
];

for (const backend of BACKENDS) {
  const run = (args: string[], options: Parameters<typeof spawnCli>[1] = {}) => spawnCli(["run", "--backend", backend, "--root", rootfs, ...args], options);

  describe.skipIf(!isRoot)(`${backend}: memory limits never kill sandboxlib`, () => {
    test("--memory below the minimum is refused up front (125), whatever the spelling", async () => {
      for (const [value, bytes] of [["512", 512], ["4096", 4096], ["16k", 16384], [String(MIN - 1), MIN - 1]] as const) {
        expect(await run(["--memory", value, "true"])).toEqual({ code: 125, stdout: "", stderr: belowMinimum(bytes) });
      }
      const config = scratchFile(`tiny-${backend}.json`, JSON.stringify({ command: ["true"], filesystem_root: rootfs, memory: 1.5 }));
      expect(await spawnCli(["run", "--backend", backend, "--config", config])).toEqual({ code: 125, stdout: "", stderr: belowMinimum(1) });
      // The minimum itself is enough to start.
      expect(await run(["--memory", String(MIN), "true"])).toEqual({ code: 0, stdout: "", stderr: "" });
    });

    test("below the minimum, past validation (the library's supervisor): the sandbox is killed for memory, its supervisor lives", async () => {
      // What --memory 512 did before the minimum: the command joined its
      // cgroup while sharing its supervisor's memory, and the OOM killer
      // took the supervisor with it. A Bun process of its own plays the supervisor.
      const src = join(import.meta.dir, "../../src");
      const script = scratchFile(
        `supervisor-${backend}.ts`,
        `import { toSandboxConfig } from "${src}/config/options.ts";
import { runPlanned } from "${src}/supervise/run.ts";
import { ${backend === "linux" ? "planLinux as plan" : "planChroot as plan"} } from "${src}/plan/${backend}-plan.ts";
const config = toSandboxConfig(["sleep", "10"], { filesystemRoot: ${JSON.stringify(rootfs)} });
for (const memory of [512, 4096, 16384]) {
  const r = await runPlanned({ ...config, limits: { ...config.limits, memory } }, { plan, hasInit: ${backend === "linux"} });
  console.log(memory, r.exitCode, r.oomKilled);
}
`,
      );
      const proc = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: "512 137 true\n4096 137 true\n16384 137 true\n", stderr: "" });
    });

    test("--memory 16M and an allocating command: 137, oom_killed, and a result (sandboxlib survived)", async () => {
      const r = await run(["--memory", "16M", "--json", ...ALLOCATE_FOREVER]);
      expect(r.code).toBe(137);
      expect(JSON.parse(r.stdout)).toMatchObject({ exit_code: 137, signal: 9, oom_killed: true, timed_out: false, setup_failed: false });
      expect(r.stderr).toBe(oomLine(16 * 1024 * 1024));
    });

    test("a sandbox its exec alone puts over the limit is killed for memory, not sandboxlib", async () => {
      // An environment of 6.2 MB at the minimum limit: the exec copies it into
      // the command's memory, charged to its cgroup while that process still
      // shared sandboxlib's memory. The OOM killer took sandboxlib along.
      const env: Record<string, string> = {};
      for (let i = 0; i < 62; i++) env[`V${i}`] = "x".repeat(100_000);
      const config = scratchFile(`big-env-${backend}.json`, JSON.stringify({ command: ["sleep", "1"], filesystem_root: rootfs, env, memory: String(MIN), rlimit: "stack=unlimited" }));
      for (let attempt = 0; attempt < 3; attempt++) {
        const r = await spawnCli(["run", "--backend", backend, "--config", config, "--json"]);
        expect(r.code).toBe(137);
        expect(JSON.parse(r.stdout)).toMatchObject({ exit_code: 137, signal: 9, oom_killed: true, setup_failed: false });
        expect(r.stderr).toBe(oomLine(MIN));
      }
    });

    test("a child killed for memory is not the command's OOM kill: its own exit status, no memory line", async () => {
      const r = await run(["--memory", "16M", "--json", "sh", "-c", `${ALLOCATE_FOREVER[0]} '${ALLOCATE_FOREVER[1]}'; exit 3`]);
      expect(r.code).toBe(3);
      expect(JSON.parse(r.stdout)).toMatchObject({ exit_code: 3, signal: null, oom_killed: false });
      expect(r.stderr).toBe("");
    });

    test("batch: a line killed for memory and a normal line both get their results", async () => {
      const lines = [
        { id: "hog", command: ALLOCATE_FOREVER, filesystem_root: rootfs, memory: "16M", backend },
        { id: "fine", command: ["echo", "still here"], filesystem_root: rootfs, backend },
      ];
      const r = await spawnCli(["batch", "--jobs", "2"], { stdin: lines.map((l) => JSON.stringify(l)).join("\n") });
      expect(r.code).toBe(0);
      const results = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(results).toEqual([
        expect.objectContaining({ id: "hog", exit_code: 137, signal: 9, oom_killed: true }),
        expect.objectContaining({ id: "fine", exit_code: 0, oom_killed: false, stdout: "still here\n" }),
      ]);
    });
  });

  describe.skipIf(!isRoot)(`${backend}: peak memory`, () => {
    test("max_rss_kb is the command's own peak (rusage), cgroup_peak_kb the sandbox's", async () => {
      const big = JSON.parse((await run(["--json", ...ALLOCATE])).stdout);
      expect(big.stdout).toBe("134217728\n");
      // At its peak the 128 MiB string and its copy: the figure `time -v` gives.
      expect(big.max_rss_kb).toBeGreaterThan(128 * 1024);
      expect(big.max_rss_kb).toBeLessThan(512 * 1024);
      expect(big.cgroup_peak_kb).toBeGreaterThan(128 * 1024);
      // A small command's own figure too: not sandboxlib's (some 40 MB),
      // which the kernel credits a process that execs from its memory with.
      const small = JSON.parse((await run(["--json", "true"])).stdout);
      expect(small).toMatchObject({ exit_code: 0 });
      expect(small.max_rss_kb).toBeGreaterThan(0);
      expect(small.max_rss_kb).toBeLessThan(8 * 1024);
      expect(small.cgroup_peak_kb).toBeGreaterThan(0);
    });

    test("a caller with a big heap does not hide it (sandboxlib is credited with its caller's peak too)", async () => {
      const script = scratchFile(
        `big-caller-${backend}.ts`,
        `const heap = new Uint8Array(400 * 1024 * 1024).fill(1);
const r = Bun.spawnSync([${JSON.stringify(BIN)}, "run", "--backend", "${backend}", "--root", ${JSON.stringify(rootfs)}, "--json", ...${JSON.stringify(ALLOCATE)}]);
process.stdout.write(r.stdout);
if (heap[12345] !== 1) process.exit(9);
`,
      );
      const proc = Bun.spawn([process.execPath, script], { stdout: "pipe" });
      const result = JSON.parse(await new Response(proc.stdout).text());
      expect(result.max_rss_kb).toBeGreaterThan(128 * 1024);
      expect(result.max_rss_kb).toBeLessThan(400 * 1024);
    });

    test("batch results carry max_rss_kb too", async () => {
      const r = await spawnCli(["batch"], { stdin: JSON.stringify({ command: ALLOCATE, filesystem_root: rootfs, backend }) });
      const [result] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(result).toMatchObject({ exit_code: 0, cgroup_peak_kb: null });
      expect(result.max_rss_kb).toBeGreaterThan(128 * 1024);
    });

    test("batch results of small commands carry their own peak, not sandboxlib's", async () => {
      const lines = [1, 2, 3].map((i) => JSON.stringify({ id: String(i), command: ["true"], filesystem_root: rootfs, backend }));
      const r = await spawnCli(["batch", "--jobs", "2"], { stdin: lines.join("\n") });
      const results = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(results.length).toBe(3);
      for (const result of results) {
        expect(result.exit_code).toBe(0);
        expect(result.max_rss_kb).toBeGreaterThan(0);
        expect(result.max_rss_kb).toBeLessThan(8 * 1024);
      }
    });
  });

  describe.skipIf(!isRoot)(`${backend}: read-only cgroups (a container's)`, () => {
    const roRun = (args: string[], options: Parameters<typeof spawnCli>[1] = {}) => run(args, { ...options, prefix: READ_ONLY_CGROUPS });

    test("--json works, with the command's own peak and no cgroup figure", async () => {
      const r = await roRun(["--json", ...ALLOCATE]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      const result = JSON.parse(r.stdout);
      expect(result).toMatchObject({ exit_code: 0, setup_failed: false, oom_killed: false, cgroup_peak_kb: null, stdout: "134217728\n" });
      expect(result.max_rss_kb).toBeGreaterThan(128 * 1024);
    });

    test("--status-fd works", async () => {
      const path = join(scratch, `status-ro-${backend}.jsonl`);
      const fd = openSync(path, "w");
      const r = await roRun(["--status-fd", "5", "sh", "-c", "exit 3"], { fds: ["ignore", "ignore", fd] });
      closeSync(fd);
      expect(r).toEqual({ code: 3, stdout: "", stderr: "" });
      const lines = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(lines[1]).toMatchObject({ exit_code: 3, setup_failed: false, cgroup_peak_kb: null });
    });

    test("batch works", async () => {
      const r = await spawnCli(["batch"], { prefix: READ_ONLY_CGROUPS, stdin: JSON.stringify({ command: ["echo", "ok"], filesystem_root: rootfs, backend }) });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ line: 1, exit_code: 0, stdout: "ok\n" });
    });

    test("--memory, --pids, --cpus: 125 naming the setting, the cause and the remedy", async () => {
      const cases: [string[], string][] = [
        [["--memory", "16M"], "--memory"],
        [["--pids", "10"], "--pids"],
        [["--cpus", "0.5"], "--cpus"],
        [["--memory", "16M", "--pids", "10"], "--memory and --pids"],
      ];
      for (const [args, named] of cases) {
        const r = await roRun([...args, "true"]);
        expect(r.code).toBe(125);
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(
          new RegExp(
            `^sandboxlib: cannot apply ${named}: cgroups are read-only at /sys/fs/cgroup(/\\w+)? \\(as in a container by default\\): give the container writable cgroups \\(docker run --cgroupns=private, or --privileged\\), or drop ${named}\\n$`,
          ),
        );
      }
    });
  });
}

/** The journal sandboxlib keeps for `root` in `stateDir`. */
function journalOf(stateDir: string, root: string): string {
  const st = stat(root)!;
  return join(stateDir, `${st.dev}-${st.ino}.created`);
}

/** Waits until no sandbox holds `root` (they hold a shared flock on it while they run). */
async function rootReleased(root: string): Promise<void> {
  const fd = open(root, O_RDONLY | 0o200000);
  try {
    await eventually(() => flock(fd, LOCK_EX | LOCK_NB), `every sandbox on ${root} gone`);
  } finally {
    close(fd);
  }
}

describe.skipIf(!isRoot)("mount-point journal", () => {
  let root = "";
  let state = "";
  beforeAll(() => {
    if (!isRoot) return;
    root = makeRootfs();
    state = mkdtempSync(join(tmpdir(), "sandboxlib-state-"));
  });
  afterAll(() => {
    if (!isRoot) return;
    removeRootfs(root);
    rmSync(state, { recursive: true, force: true });
  });
  const env = () => ({ SANDBOXLIB_STATE_DIR: state });
  const entries = () => readdirSync(root).sort();

  test("linux: SIGKILL of sandboxlib during set-up; the next run removes the mount points it created", async () => {
    const before = entries();
    // Many mounts make a set-up of some milliseconds; sandboxlib is killed as
    // soon as the first mount point appears, long before its spawn returns.
    const mounts = Array.from({ length: 300 }, (_, i) => ["--tmpfs", `/crashed/m${i}`]).flat();
    let killedMidway = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      const proc = Bun.spawn([BIN, "run", "--backend", "linux", "--root", root, ...mounts, "--", "true"], { env: { ...process.env, ...env() }, stdio: ["ignore", "ignore", "ignore"] });
      const marker = join(root, "crashed");
      // Busy: an await would give the set-up time to finish. Bounded, not timed.
      const giveUp = performance.now() + 10_000;
      while (!existsSync(marker) && performance.now() < giveUp) {}
      proc.kill(9);
      await proc.exited;
      if (proc.signalCode === "SIGKILL" && existsSync(marker)) killedMidway++;
      await rootReleased(root);
    }
    expect(killedMidway).toBeGreaterThan(0);
    expect(existsSync(journalOf(state, root))).toBe(true);
    // A run with no mount of its own, on the same root, is the last one out.
    expect(await runCli(["run", "--backend", "linux", "--root", root, "true"], { env: env() })).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(entries()).toEqual(before);
    expect(existsSync(journalOf(state, root))).toBe(false);
  });

  test("an intent left by a dead run: what exists and is empty goes, what holds data stays", async () => {
    mkdirSync(join(root, "left/empty"), { recursive: true });
    mkdirSync(join(root, "kept"), { recursive: true });
    writeFileSync(join(root, "kept/data"), "user data");
    writeFileSync(join(root, "leftfile"), "");
    const intent = (path: string, count: number, file: boolean) => JSON.stringify({ run: "dead-1", path, count, file, intent: true });
    writeFileSync(
      journalOf(state, root),
      [intent("left/empty", 2, false), intent("kept/data", 2, true), intent("leftfile", 1, true), intent("never/made", 2, false), '{"path":"torn'].join("\n"),
    );
    expect(await runCli(["run", "--root", root, "true"], { env: env() })).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(existsSync(join(root, "left"))).toBe(false);
    expect(existsSync(join(root, "leftfile"))).toBe(false);
    expect(readFileSync(join(root, "kept/data"), "utf8")).toBe("user data");
    expect(existsSync(journalOf(state, root))).toBe(false);
    rmSync(join(root, "kept"), { recursive: true });
  });

  for (const backend of BACKENDS) {
    test(`${backend}: a full state directory: 125 naming it, and nothing created`, async () => {
      const full = mkdtempSync(join(tmpdir(), "sandboxlib-full-"));
      expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", full]).exitCode).toBe(0);
      try {
        Bun.spawnSync(["dd", "if=/dev/zero", `of=${full}/filler`, "bs=4k", "count=4"], { stderr: "ignore" });
        const before = entries();
        const r = await runCli(["run", "--backend", backend, "--root", root, "--tmpfs", "/new/point", "true"], { env: { SANDBOXLIB_STATE_DIR: full } });
        expect(r).toEqual({
          code: 125,
          stdout: "",
          stderr: `sandboxlib: cannot record the mount points this run may create in the state directory ${full}: No space left on device (SANDBOXLIB_STATE_DIR chooses another)\n`,
        });
        expect(entries()).toEqual(before);
        // Nothing to create, nothing to record: a run whose mount points exist is not refused.
        expect((await runCli(["run", "--backend", backend, "--root", root, "--tmpfs", "/tmp", "true"], { env: { SANDBOXLIB_STATE_DIR: full } })).code).toBe(0);
      } finally {
        Bun.spawnSync(["umount", full]);
        rmSync(full, { recursive: true, force: true });
      }
    });

    test(`${backend}: a read-only state directory: 125 naming it, and nothing created`, async () => {
      const ro = mkdtempSync(join(tmpdir(), "sandboxlib-ro-"));
      expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", ro]).exitCode).toBe(0);
      try {
        const before = entries();
        const r = await runCli(["run", "--backend", backend, "--root", root, "--tmpfs", "/new/point", "true"], { env: { SANDBOXLIB_STATE_DIR: `${ro}/state` } });
        expect(r).toEqual({
          code: 125,
          stdout: "",
          stderr: `sandboxlib: cannot record the mount points this run may create in the state directory ${ro}/state: Read-only file system (SANDBOXLIB_STATE_DIR chooses another)\n`,
        });
        expect(entries()).toEqual(before);
      } finally {
        Bun.spawnSync(["umount", ro]);
        rmSync(ro, { recursive: true, force: true });
      }
    });
  }
});
