// The scenarios every environment of test/env runs, against the real
// executable: a default run, a directory root, a tarball root, --json,
// --status-fd, batch, --degrade, refusals, and the chroot escape.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CliResult } from "./cli.ts";
import { type Environment, hostPathIn, runIn } from "./environments.ts";
import { buildFixture } from "./fixtures.ts";
import { isRoot, makeRootfs, removeRootfs } from "./rootfs.ts";

export interface Expectations {
  /** The backend a default run uses there. */
  backend: "linux" | "chroot";
  /** The one warning line a default run prints (a fallback, a way into the root), or null. */
  warning: RegExp | null;
  /** Whether extra mounts (--proc) can be made there. */
  mounts: boolean;
  /** Whether an isolated network can be had as asked (its loopback up). */
  isolatedNetwork: boolean;
  /** The root filesystem's /tmp is writable there (the escape fixture writes into it). */
  writableTmp?: boolean;
  /** sandboxlib holds every capability there (no container's reduced set). */
  allCapabilities: boolean;
}

/** The lines of stderr that are not the expected warning. */
function otherStderr(r: CliResult, warning: RegExp | null): string[] {
  return r.stderr.split("\n").filter((l) => l !== "" && !(warning && warning.test(l)));
}

/** Files the sandboxes use, created inside the environment's chroot when it has one. */
interface Files {
  /** The root as the executable sees it, and on the host. */
  root: string;
  hostRoot: string;
  tarball: string;
}

export function environmentSuite(makeEnv: () => Environment, expected: Expectations, cleanup: () => void = () => {}): void {
  let env: Environment;
  let files: Files;
  let scratch: string;

  beforeAll(() => {
    if (!isRoot) return;
    env = makeEnv();
    const made = makeRootfs();
    buildFixture("chroot-escape", made);
    scratch = hostPathIn(env, `/envtest-${process.pid}`);
    mkdirSync(scratch, { recursive: true });
    const hostRoot = join(scratch, "rootfs");
    renameSync(made, hostRoot);
    const seen = (p: string) => (env.chrootDir ? p.slice(env.chrootDir.length) : p);
    const tarball = join(scratch, "rootfs.tar");
    const tar = Bun.spawnSync(["tar", "-C", hostRoot, "-cf", tarball, "."], { stderr: "pipe" });
    if (tar.exitCode !== 0) throw new Error(`tar: ${tar.stderr}`);
    files = { root: seen(hostRoot), hostRoot, tarball: seen(tarball) };
  });
  afterAll(() => {
    if (!isRoot) return;
    removeRootfs(scratch);
    cleanup();
  });

  const run = (args: string[], options?: Parameters<typeof runIn>[2]) => runIn(env, args, options);
  const warned = (r: CliResult) => {
    if (expected.warning) expect(r.stderr).toMatch(expected.warning);
    expect(otherStderr(r, expected.warning)).toEqual([]);
  };

  test.skipIf(!isRoot)("default run -- sh -c 'echo hi': works, one warning line at most", async () => {
    const r = await run(["run", "--", "sh", "-c", "echo hi"]);
    expect([r.code, r.stdout]).toEqual([0, "hi\n"]);
    warned(r);
  });

  test.skipIf(!isRoot)("a directory root", async () => {
    const r = await run(["run", "--root", files.root, "--", "sh", "-c", "cat /data/1/canary; echo"]);
    expect([r.code, r.stdout]).toEqual([0, "Please don't overwrite me.\n"]);
    warned(r);
  });

  test.skipIf(!isRoot)("a tarball root", async () => {
    const r = await run(["run", "--root", files.tarball, "--", "cat", "/data/1/canary"]);
    expect([r.code, r.stdout]).toEqual([0, "Please don't overwrite me."]);
    warned(r);
  });

  test.skipIf(!isRoot)("--json: one result object, the output captured, the command's peak memory measured", async () => {
    const r = await run(["run", "--json", "--", "sh", "-c", "echo hi"]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ exit_code: 0, setup_failed: false, stdout: "hi\n", stderr: "" });
    expect(result.max_rss_kb).toBeGreaterThan(0);
    expect(result.max_rss_kb).toBeLessThan(8 * 1024);
    warned(r);
  });

  test.skipIf(!isRoot)("--status-fd: the child's pid at start, the result at the end", async () => {
    const r = await run(["run", "--status-fd", "3", "--", "sh", "-c", "echo hi"], { fd3ToStdout: true });
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").filter(Boolean);
    expect(lines).toContain("hi");
    const status = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    expect(status.length).toBe(2);
    expect(status[0].child_pid).toBeGreaterThan(0);
    expect(status[1]).toMatchObject({ exit_code: 0, setup_failed: false });
    warned(r);
  });

  test.skipIf(!isRoot)("batch: a result line per input line", async () => {
    const input = [JSON.stringify({ id: "a", command: ["echo", "a"] }), JSON.stringify({ id: "b", command: ["sh", "-c", "exit 3"], filesystem_root: files.root })].join("\n");
    const r = await run(["batch"], { stdin: `${input}\n` });
    expect(r.code).toBe(0);
    const results = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(results.map((x) => [x.id, x.exit_code, x.stdout])).toEqual([["a", 0, "a\n"], ["b", 3, ""]]);
    warned(r);
  });

  test.skipIf(!isRoot)("--network isolated: as asked, or refused with 125 naming it, its cause and the remedy", async () => {
    const r = await run(["run", "--network", "isolated", "--", "sh", "-c", "echo hi"]);
    if (expected.isolatedNetwork) {
      expect([r.code, r.stdout]).toEqual([0, "hi\n"]);
      return;
    }
    expect(r.code).toBe(125);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^sandboxlib: --network isolated cannot be honoured here, because (the linux backend cannot run: |its loopback interface cannot be brought up without CAP_NET_ADMIN).*; --degrade .*docker run --cap-add/);
  });

  test.skipIf(!isRoot)("--proc: mounted where mounts can be made, else refused with 125 naming it", async () => {
    const r = await run(["run", "--root", files.root, "--proc", "/proc", "--", "sh", "-c", "test -e /proc/self/status && echo mounted"]);
    if (expected.mounts) {
      expect([r.code, r.stdout]).toEqual([0, "mounted\n"]);
      return;
    }
    expect([r.code, r.stdout]).toEqual([125, ""]);
    expect(r.stderr).toMatch(/^sandboxlib: the proc mount on \/proc cannot be honoured here, because no mounts can be made: .*; --degrade .*\n$/);
  });

  test.skipIf(!isRoot)("--degrade: what cannot be honoured is dropped with one warning line each, and the command runs", async () => {
    const r = await run(["run", "--degrade", "--root", files.root, "--network", "isolated", "--proc", "/proc", "--read-only", "--", "sh", "-c", "echo hi"]);
    expect([r.code, r.stdout]).toEqual([0, "hi\n"]);
    const warnings = r.stderr.split("\n").filter(Boolean);
    for (const line of warnings) expect(line).toMatch(/^sandboxlib: warning: /);
    if (expected.backend === "chroot") {
      expect(warnings.some((l) => l.includes("network=isolated"))).toBe(true);
      expect(warnings.some((l) => l.includes("filesystem_writable_paths=none"))).toBe(true);
    }
    if (!expected.mounts) expect(warnings.some((l) => l.includes("proc mount on /proc"))).toBe(true);
    if (!expected.isolatedNetwork && expected.backend === "linux") expect(warnings.some((l) => l.includes("no loopback interface"))).toBe(true);
    // Where everything can be honoured, nothing is said but the expected warning.
    if (expected.backend === "linux" && expected.mounts && expected.isolatedNetwork) expect(otherStderr(r, expected.warning)).toEqual([]);
  });

  test.skipIf(!isRoot)("--cap-add of a capability the caller lacks: 125 naming it; one it holds is granted", async () => {
    const r = await run(["run", "--cap-add", "SYS_MODULE", "--", "true"]);
    if (expected.allCapabilities) {
      expect([r.code, r.stderr.split("\n").filter(Boolean).length]).toEqual([0, expected.warning ? 1 : 0]);
      return;
    }
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^sandboxlib: --cap-add SYS_MODULE: sandboxlib does not hold CAP_SYS_MODULE here \(its capability set is [0-9a-f]{16}, as a container gives\), so the command cannot get it; .*--degrade.*\n$/);
  });

  test.skipIf(!isRoot || expected.writableTmp === false)("the classic chroot escape does not reach the host", async () => {
    const r = await run(["run", "--root", files.root, "--", "/bin/chroot-escape"]);
    rmSync(join(files.hostRoot, "tmp/escape"), { recursive: true, force: true });
    const listed = r.stdout.split("\n").filter(Boolean);
    // The host has /usr and /var; the test root filesystem has neither.
    expect(listed).not.toContain("usr");
    expect(listed).not.toContain("var");
    if (r.code !== 0) expect(r.stderr).toContain("chroot: Operation not permitted");
  });
}

/** The exit status and message of an explicit --backend linux where it cannot run. */
export async function expectLinuxRefused(env: Environment): Promise<void> {
  const r = await runIn(env, ["run", "--backend", "linux", "--", "true"]);
  expect(r.code).toBe(125);
  expect(r.stderr).toMatch(/^sandboxlib: the linux backend cannot run here: .*; use the chroot backend \(--backend chroot, or no --backend at all\), or give the container the rights: docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined, or BuildKit's RUN --security=insecure\n$/);
}
