// The attack suite's setting: a busybox root with the attack programs built
// in, a scratch directory on the host, and a runner for one backend.
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, type CliResult, runCli } from "./cli.ts";
import { buildFixture } from "./fixtures.ts";
import { removeTestTree, settles } from "./host-cleanup.ts";
import { makeRootfs } from "./rootfs.ts";

export const BACKENDS = ["linux", "chroot"] as const;
export type Backend = (typeof BACKENDS)[number];

/** The probe program inside the root (test/fixtures/attack-probe.c). */
export const PROBE = "/bin/attack-probe";

export interface AttackSetting {
  root: string;
  scratch: string;
  /** The probe built for the host too (to compute file handles, listen, ...). */
  hostProbe: string;
  dispose(): void;
}

export function attackSetting(name: string): AttackSetting {
  const root = makeRootfs();
  const scratch = mkdtempSync(join(tmpdir(), `sandboxlib-attack-${name}-`));
  chmodSync(scratch, 0o755);
  buildFixture("attack-probe", root);
  buildFixture("chroot-escape", root);
  return {
    root,
    scratch,
    hostProbe: join(root, PROBE),
    dispose() {
      removeTestTree(root);
      removeTestTree(scratch);
    },
  };
}

export type Runner = (args: string[], opts?: Parameters<typeof runCli>[1]) => Promise<CliResult>;

/** `sandboxlib run --backend B --root R ARGS...` */
export function runnerFor(backend: Backend, root: string): Runner {
  return (args, opts) => runCli(["run", "--backend", backend, "--root", root, ...args], opts);
}

/** Runs one probe in a sandbox and returns its answer (first line of stdout). */
export async function probeIn(run: Runner, options: string[], ...probe: string[]): Promise<string> {
  const r = await run([...options, PROBE, ...probe]);
  return r.stdout.trim() || `(no answer; exit ${r.code}; ${r.stderr.trim()})`;
}

/** Starts sandboxlib in the background. */
export function spawnSandboxlib(args: string[], env: Record<string, string> = {}) {
  return Bun.spawn([BIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } as Record<string, string> });
}

/** Whether stderr is at most one line, and that one sandboxlib's. */
export function oneLineOrNone(stderr: string): boolean {
  return stderr === "" || /^sandboxlib: [^\n]*\n$/.test(stderr);
}

export interface RawResult {
  /** Exit status, or null when sandboxlib itself was killed by a signal. */
  code: number | null;
  /** The signal that killed sandboxlib itself, if one did. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs sandboxlib and tells an exit status from sandboxlib's own death by a
 * signal. `fds` are the caller's descriptors 3, 4, ...; `stdoutFd` sends
 * stdout to a descriptor instead of a pipe.
 */
export async function runRaw(args: string[], opts: { stdin?: string; env?: Record<string, string>; fds?: number[]; stdoutFd?: number } = {}): Promise<RawResult> {
  const proc = Bun.spawn([BIN, ...args], {
    stdio: [opts.stdin === undefined ? "ignore" : "pipe", opts.stdoutFd ?? "pipe", "pipe", ...(opts.fds ?? [])] as never,
    env: { ...process.env, ...opts.env } as Record<string, string>,
  });
  if (opts.stdin !== undefined) {
    const sink = proc.stdin as unknown as { write(s: string): void; end(): void };
    sink.write(opts.stdin);
    sink.end();
  }
  const text = (s: unknown) => (s instanceof ReadableStream ? new Response(s).text() : Promise.resolve(""));
  const [stdout, stderr] = await Promise.all([text(proc.stdout), text(proc.stderr)]);
  await proc.exited;
  return { code: proc.signalCode ? null : proc.exitCode, signal: proc.signalCode ? String(proc.signalCode) : null, stdout, stderr };
}

/**
 * Starts sandboxlib with a command that signals, through a bound host
 * directory, that it has started (touching `<bound>/started`), then loops.
 * `args` are sandboxlib's up to the command; the bind to /bound is added.
 */
export async function startedSandbox(args: string[], bound: string, script: string) {
  const marker = join(bound, "started");
  rmSync(marker, { force: true });
  const proc = spawnSandboxlib([...args, "--bind", `${bound}:/bound`, "sh", "-c", `${script}; touch /bound/started; while :; do sleep 1; done`]);
  if (!(await settles(() => existsSync(marker), 4000))) {
    proc.kill("SIGKILL");
    throw new Error(`the sandboxed command never started: sandboxlib ${args.join(" ")}`);
  }
  return proc;
}
