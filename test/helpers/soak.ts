// The signal soak: many sandboxlib runs (both backends; binds, tmpfs, proc,
// dev, cgroup limits, images, batch) killed with SIGKILL, SIGTERM or SIGINT
// at random moments of set-up and run; every exit must be a documented one
// with at most one line on stderr, and nothing may be left behind. Seeded:
// run i of seed s is always the same run (scripts/soak.ts --seed s --only i).
import { chance, describeLeftovers, int, isClean, isDocumentedStatus, type Leftovers, makeRig, pick, type Rand, type Rig, runPrng, type SessionOptions, type SessionReport, stderrProblem } from "./rig.ts";

export type SoakOptions = SessionOptions;

/** `outcomes` groups how runs ended: "SIGTERM at 12ms -> 143", ... */
export interface SoakReport extends SessionReport {
  runs: number;
}

type Signal = "SIGKILL" | "SIGTERM" | "SIGINT";

interface Planned {
  index: number;
  kind: "run" | "batch" | "image";
  argv: string[];
  stdin: string | null;
  signal: Signal | null;
  delayMs: number;
  /** The command's own exit statuses. */
  expected: number[];
  /** Lines of a batch. */
  lines: number;
}

/** Commands: quick, slow, leaving daemons behind, writing output. */
const COMMANDS: { argv: string[]; expected: number; needsDev?: boolean }[] = [
  { argv: ["true"], expected: 0 },
  { argv: ["sleep", "0.1"], expected: 0 },
  { argv: ["sh", "-c", "exec >/dev/null 2>&1; sleep 30 & setsid sleep 30 & (setsid sh -c 'sleep 30 &' &); sleep 0.2"], expected: 0, needsDev: true },
  { argv: ["sh", "-c", "yes | head -c 200000 >/dev/null; exit 3"], expected: 3, needsDev: true },
  // Writes to /dev/null: without --dev, the shell would create it as a file in the root.
  { argv: ["sh", "-c", "ls -R /bin /etc /data >/dev/null 2>&1; exit 0"], expected: 0, needsDev: true },
];

interface Features {
  backend: "linux" | "chroot";
  root: string;
  command: (typeof COMMANDS)[number];
  tmpfs: string[];
  bind: string[];
  roBind: string[];
  proc: boolean;
  dev: boolean;
  memory: string | null;
  pids: number | null;
  cpus: string | null;
  isolated: boolean;
  timeout: string | null;
}

function features(r: Rand, rig: Rig, root: string): Features {
  const backend = pick(r, ["linux", "chroot"] as const);
  const command = pick(r, COMMANDS);
  return {
    backend,
    root,
    command,
    tmpfs: [...(chance(r, 0.4) ? ["/tmp"] : []), ...(chance(r, 0.3) ? [`/soak/t${int(r, 0, 2)}/x`] : [])],
    bind: [...(chance(r, 0.3) ? [`${rig.bindSource}:/data/1`] : []), ...(chance(r, 0.3) ? [`${rig.bindSource}:/soak/b${int(r, 0, 2)}`] : [])],
    roBind: chance(r, 0.2) ? [`${rig.bindSource}:/srv/ro${int(r, 0, 1)}`] : [],
    proc: chance(r, 0.4),
    dev: command.needsDev === true || chance(r, 0.4),
    memory: chance(r, 0.2) ? pick(r, ["64M", "128M"]) : null,
    pids: chance(r, 0.2) ? 64 : null,
    cpus: chance(r, 0.1) ? "1" : null,
    isolated: backend === "linux" && chance(r, 0.3),
    timeout: chance(r, 0.1) ? pick(r, ["0.05", "0.3", "1"]) : null,
  };
}

function asArgs(f: Features, marker: string): string[] {
  const a = ["--backend", f.backend, "--root", f.root, "--env", `SANDBOXLIB_SOAK_MARK=${marker}`];
  for (const t of f.tmpfs) a.push("--tmpfs", t);
  for (const b of f.bind) a.push("--bind", b);
  for (const b of f.roBind) a.push("--ro-bind", b);
  if (f.proc) a.push("--proc", "/proc");
  if (f.dev) a.push("--dev", "/dev");
  if (f.memory) a.push("--memory", f.memory);
  if (f.pids) a.push("--pids", String(f.pids));
  if (f.cpus) a.push("--cpus", f.cpus);
  if (f.isolated) a.push("--network", "isolated");
  if (f.timeout) a.push("--timeout", f.timeout);
  return [...a, "--", ...f.command.argv];
}

function asConfig(f: Features, marker: string): Record<string, unknown> {
  return {
    backend: f.backend,
    filesystem_root: f.root,
    command: f.command.argv,
    env: { PATH: "/bin", SANDBOXLIB_SOAK_MARK: marker },
    tmpfs: f.tmpfs,
    bind: f.bind,
    "ro-bind": f.roBind,
    ...(f.proc ? { proc: "/proc" } : {}),
    ...(f.dev ? { dev: "/dev" } : {}),
    ...(f.memory ? { memory: f.memory } : {}),
    ...(f.pids ? { pids: f.pids } : {}),
    ...(f.cpus ? { cpus: f.cpus } : {}),
    ...(f.isolated ? { network: "isolated" } : {}),
    ...(f.timeout ? { timeout: f.timeout } : {}),
  };
}

/** Run `index` of the session `seed`. */
export function planSoakRun(rig: Rig, seed: number, index: number): Planned {
  const r = runPrng(seed, index);
  const kind = r() < 0.8 ? "run" : r() < 0.6 ? "batch" : "image";
  // An image is unpacked into a temporary directory that only a catchable
  // signal lets sandboxlib remove: SIGKILL is left out for those runs.
  const signal = chance(r, 0.75) ? pick(r, kind === "image" ? (["SIGTERM", "SIGINT"] as const) : (["SIGKILL", "SIGTERM", "SIGINT"] as const)) : null;
  const delayMs = int(r, 0, kind === "image" ? 150 : 80);
  const root = chance(r, 0.7) ? rig.roots.shared : rig.roots.other;
  if (kind === "batch") {
    const lines = Array.from({ length: int(r, 2, 5) }, () => asConfig(features(r, rig, root), rig.marker));
    return {
      index, kind, signal, delayMs, expected: [0], lines: lines.length,
      argv: ["batch", "--jobs", String(int(r, 1, 3)), "-"],
      stdin: `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`,
    };
  }
  const f = features(r, rig, kind === "image" ? rig.tarball : root);
  return { index, kind, signal, delayMs, expected: [f.command.expected], lines: 0, argv: ["run", ...asArgs(f, rig.marker)], stdin: null };
}

/** Reads a stream to its end, or gives up `ms` after being asked to (a process that survived holds it open). */
async function drain(stream: ReadableStream<Uint8Array>, closed: Promise<unknown>, ms: number): Promise<string | null> {
  const text = new Response(stream).text();
  const late = closed.then(() => Bun.sleep(ms)).then(() => null);
  return Promise.race([text, late]);
}

/** What is wrong with a batch's output, if anything. */
function batchProblem(stdout: string, lines: number, code: number | null): string | null {
  const out = stdout.split("\n").filter(Boolean);
  let results: { line: number; exit_code: number; error?: string }[];
  try {
    results = out.map((l) => JSON.parse(l));
  } catch {
    return "a batch result line is not JSON";
  }
  if (results.some((x, i) => x.line !== i + 1)) return "batch results out of order or missing";
  if (code === 0 && results.length !== lines) return `batch exited 0 after ${results.length} of ${lines} results`;
  for (const x of results) {
    if (!isDocumentedStatus(x.exit_code, [0, 3])) return `batch line ${x.line}: undocumented exit_code ${x.exit_code}`;
    if (x.error && (/internal error/.test(x.error) || x.error.includes("\n"))) return `batch line ${x.line}: error ${JSON.stringify(x.error)}`;
  }
  return null;
}

async function execute(rig: Rig, p: Planned): Promise<{ outcome: string; problem: string | null }> {
  const proc = rig.spawn(p.argv, { stdin: p.stdin === null ? "ignore" : "pipe" });
  if (p.stdin !== null) {
    const sink = proc.stdin as unknown as { write(s: string): void; end(): void };
    sink.write(p.stdin);
    sink.end();
  }
  const exited = proc.exited;
  const timers: ReturnType<typeof setTimeout>[] = [];
  let hung = false;
  if (p.signal) timers.push(setTimeout(() => proc.kill(p.signal!), p.delayMs));
  timers.push(setTimeout(() => ((hung = true), proc.kill("SIGKILL")), 20_000));
  const [stdout, stderr] = await Promise.all([drain(proc.stdout, exited, 2000), drain(proc.stderr, exited, 2000)]);
  await exited;
  for (const t of timers) clearTimeout(t);
  const code = proc.signalCode ? null : proc.exitCode;
  const died = proc.signalCode ? String(proc.signalCode) : null;
  const outcome = `${p.kind} ${p.signal ?? "no signal"} -> ${died ? `killed by ${died}` : `exit ${code}`}`;
  const problem = hung
    ? "did not exit within 20 s"
    : stdout === null || stderr === null
      ? "its output stayed open after it exited: something it started survived"
      : died && died !== p.signal
        ? `sandboxlib died of ${died}`
        : code !== null && !isDocumentedStatus(code, p.expected)
          ? `undocumented exit status ${code}`
          : stderrProblem(stderr, code) ?? (p.kind === "batch" ? batchProblem(stdout, p.lines, code) : null);
  return { outcome, problem: problem && `${problem}; stderr: ${JSON.stringify(stderr?.slice(0, 300))}` };
}

export async function soak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const rig = makeRig("soak");
  const outcomes: Record<string, number> = {};
  const problems: string[] = [];
  let runs = 0;
  try {
    const started = Date.now();
    const indices = o.only === undefined ? null : [o.only];
    let next = 0;
    const take = (): number | null => {
      if (indices) return next < indices.length ? indices[next++]! : null;
      if (next >= o.count || Date.now() - started > o.seconds * 1000) return null;
      return next++;
    };
    const worker = async () => {
      for (let i = take(); i !== null; i = take()) {
        const planned = planSoakRun(rig, o.seed, i);
        const { outcome, problem } = await execute(rig, planned);
        runs++;
        const bucket = outcome.replace(/exit (\d+)/, "exit $1");
        outcomes[bucket] = (outcomes[bucket] ?? 0) + 1;
        if (problem) {
          const line = `run ${i} (seed ${o.seed}; ${planned.signal ?? "no signal"} after ${planned.delayMs} ms): ${problem}\n  sandboxlib ${planned.argv.join(" ")}${planned.stdin ? `\n  stdin: ${planned.stdin.trim().split("\n").join("\n         ")}` : ""}`;
          problems.push(line);
          log(line);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
    const left = await rig.inventory({ sweep: true });
    if (!isClean(left)) log(`left behind:\n${describeLeftovers(left)}`);
    return { seed: o.seed, runs, outcomes, problems, leftovers: left, clean: isClean(left) };
  } finally {
    rig.dispose();
  }
}
