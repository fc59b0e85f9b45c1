// `sandboxlib runner` throughput: /bin/true actions through the runner (gRPC
// from Node over the UNIX socket, one sandbox each), one at a time and
// several at a time, against the same number of /bin/true run directly
// (spawnSync from the same Node client). As root: bun bench/runner.ts
//   BENCH_RUNNER_N (default 300), BENCH_RUNNER_JOBS (default 1,2,4,8)
// The build directory is laid out before the clock starts, as bb_worker
// does it before calling Run; the input root is a static busybox as true.
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REPO = join(import.meta.dir, "..");
const BIN = join(REPO, "dist/sandboxlib");
const N = Number(process.env.BENCH_RUNNER_N ?? 300);
const JOBS = (process.env.BENCH_RUNNER_JOBS ?? "1,2,4,8").split(",").map(Number);

if (process.geteuid?.() !== 0) throw new Error("bench/runner.ts: run as root");
const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((p) => Bun.file(p).size > 0);
if (!busybox) throw new Error("busybox not found (scripts/install-test-deps.sh installs busybox-static)");

const dir = mkdtempSync(join(tmpdir(), "sandboxlib-bench-runner-"));
const build = join(dir, "build");
mkdirSync(build);
writeFileSync(join(build, "check_readiness"), "");
copyFileSync(busybox, join(build, "busybox"));
chmodSync(join(build, "busybox"), 0o755);
const total = N * JOBS.length;
for (let i = 0; i < total; i++) {
  const a = join(build, `a${i}`);
  for (const d of ["root/bin", "tmp", "server_logs"]) mkdirSync(join(a, d), { recursive: true });
  linkSync(join(build, "busybox"), join(a, "root/bin/busybox"));
  symlinkSync("busybox", join(a, "root/bin/true"));
}

const socket = join(dir, "runner.sock");
const runner = Bun.spawn([BIN, "runner", "--listen", `unix:${socket}`, "--build-directory", build], { stdout: "ignore", stderr: "inherit" });
try {
  for (let i = 0; i < 200 && !(await Bun.file(socket).exists()); i++) await Bun.sleep(25);
  const rows: string[] = [];
  for (const [k, jobs] of JOBS.entries()) {
    const client = Bun.spawn(["node", join(import.meta.dir, "runner-client.cjs"), socket, String(N), String(jobs), String(k * N)], { stdout: "pipe", stderr: "inherit" });
    const out = await new Response(client.stdout).text();
    if ((await client.exited) !== 0) throw new Error("the bench client failed");
    const r = JSON.parse(out) as { wallMs: number; directMs: number; p50: number; p95: number };
    const perAction = r.wallMs / N;
    const direct = r.directMs / N;
    rows.push(
      `concurrency ${String(jobs).padStart(2)}: ${(N / (r.wallMs / 1000)).toFixed(0).padStart(5)} actions/s, ${perAction.toFixed(2)} ms/action ` +
        `(latency p50 ${r.p50.toFixed(2)} ms, p95 ${r.p95.toFixed(2)} ms); /bin/true directly ${direct.toFixed(2)} ms: ` +
        `overhead ${(perAction - direct).toFixed(2)} ms/action`,
    );
    console.log(rows.at(-1));
  }
} finally {
  runner.kill("SIGTERM");
  await runner.exited;
  rmSync(dir, { recursive: true, force: true });
}
