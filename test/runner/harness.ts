// The conformance suite's harness: the compiled executable, copied to an
// empty directory, serving a build directory laid out as bb_worker does
// (N/root, N/tmp, N/server_logs, N/stdout, N/stderr, check_readiness), called
// by a gRPC client in another runtime (Node, client.cjs).
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, requireBinary } from "../helpers/cli.ts";
import { busyboxPath } from "../helpers/rootfs.ts";

export const CLIENT = join(import.meta.dir, "client.cjs");

export const OK = 0;
export const CANCELLED = 1;
export const INVALID_ARGUMENT = 3;
export const DEADLINE_EXCEEDED = 4;
export const NOT_FOUND = 5;
export const INTERNAL = 13;

export interface CallResult {
  code: number;
  details: string;
  response: { exit_code: number } | null;
  usage: Record<string, unknown>[] | null;
  ms: number;
}

export interface Call {
  method: "Run" | "CheckReadiness" | "Raw";
  request?: Record<string, unknown>;
  deadline_ms?: number;
  cancel_after_ms?: number;
  raw_hex?: string;
}

export interface RunningRunner {
  dir: string;
  build: string;
  socket: string;
  proc: ReturnType<typeof Bun.spawn>;
  stderr(): Promise<string>;
  calls(list: Call[]): Promise<CallResult[]>;
  call(c: Call): Promise<CallResult>;
  stop(): Promise<number>;
}

/** Starts `sandboxlib runner` (a copy of the executable in an empty directory) with `config`; resolves once it listens. */
export async function startRunner(config: Record<string, unknown> | null): Promise<RunningRunner> {
  requireBinary();
  const dir = mkdtempSync(join(tmpdir(), "sandboxlib-runner-"));
  const binDir = join(dir, "bin");
  mkdirSync(binDir);
  const bin = join(binDir, "sandboxlib");
  copyFileSync(BIN, bin);
  chmodSync(bin, 0o755);
  const build = join(dir, "build");
  mkdirSync(build);
  writeFileSync(join(build, "check_readiness"), "");
  const socket = join(dir, "runner");
  const args = [bin, "runner", "--listen", `unix://${socket}`, "--build-directory", build];
  if (config !== null) {
    writeFileSync(join(dir, "runner.json"), JSON.stringify(config));
    args.push("--config", join(dir, "runner.json"));
  }
  const proc = Bun.spawn(args, { cwd: binDir, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderr = new Response(proc.stderr).text();
  for (let i = 0; i < 200 && !existsSync(socket); i++) {
    if (proc.exitCode !== null) throw new Error(`the runner exited ${proc.exitCode}: ${await stderr}`);
    await Bun.sleep(50);
  }
  if (!existsSync(socket)) throw new Error("the runner does not listen");
  const calls = async (list: Call[]): Promise<CallResult[]> => {
    const node = Bun.spawn(["node", CLIENT, socket], { stdin: Buffer.from(JSON.stringify(list)), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(node.stdout).text(), new Response(node.stderr).text(), node.exited]);
    if (code !== 0) throw new Error(`client failed (${code}): ${err}`);
    return JSON.parse(out);
  };
  return {
    dir,
    build,
    socket,
    proc,
    stderr: () => stderr,
    calls,
    call: async (c) => (await calls([c]))[0]!,
    async stop() {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** A busybox userland in `root` (bin/busybox and its applets). */
export function busyboxUserland(root: string): void {
  mkdirSync(join(root, "bin"), { recursive: true });
  copyFileSync(busyboxPath(), join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  const applets = Bun.spawnSync([busyboxPath(), "--list"]).stdout.toString().split("\n").filter(Boolean);
  for (const applet of applets) if (applet !== "busybox") symlinkSync("busybox", join(root, "bin", applet));
}

/**
 * Lays out action N as bb_worker does: N/root (the input root, with a busybox
 * userland unless `userland` is false), N/tmp, N/server_logs; returns the
 * request's path fields.
 */
export function layoutAction(build: string, n: string, userland = true): Record<string, string> {
  const base = join(build, n);
  mkdirSync(join(base, "root"), { recursive: true });
  mkdirSync(join(base, "tmp"));
  mkdirSync(join(base, "server_logs"));
  if (userland) busyboxUserland(join(base, "root"));
  return {
    input_root_directory: `${n}/root`,
    temporary_directory: `${n}/tmp`,
    server_logs_directory: `${n}/server_logs`,
    stdout_path: `${n}/stdout`,
    stderr_path: `${n}/stderr`,
  };
}

export const read = (build: string, path: string) => readFileSync(join(build, path), "utf8");

/** Processes whose command line contains `token`. */
export function processesWith(token: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(token)) found.push(Number(entry));
    } catch {}
  }
  return found;
}
