// The Node side of bench/runner.ts: N Runs of /bin/true through the runner
// at a given concurrency, and N direct runs of /bin/true for comparison.
//   node runner-client.cjs SOCKET N CONCURRENCY FIRST  ->  JSON timings
"use strict";
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");

const dir = path.join(__dirname, "../src/runner");
const def = loader.loadSync(["runner.proto"], { keepCase: true, longs: Number, defaults: true, includeDirs: [dir] });
const proto = grpc.loadPackageDefinition(def);
const [socket, nText, cText, firstText] = process.argv.slice(2);
const n = Number(nText);
const concurrency = Number(cText);
const first = Number(firstText);
const client = new proto.buildbarn.runner.Runner(`unix:${socket}`, grpc.credentials.createInsecure());

const run = (i) =>
  new Promise((resolve, reject) => {
    const a = `a${first + i}`;
    const request = {
      arguments: ["true"],
      environment_variables: { PATH: "/bin" },
      input_root_directory: `${a}/root`,
      temporary_directory: `${a}/tmp`,
      server_logs_directory: `${a}/server_logs`,
      stdout_path: `${a}/stdout`,
      stderr_path: `${a}/stderr`,
    };
    const t0 = process.hrtime.bigint();
    client.Run(request, (err, res) => {
      if (err) return reject(err);
      if (res.exit_code !== 0) return reject(new Error(`exit ${res.exit_code}`));
      resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  });

(async () => {
  await new Promise((resolve, reject) => client.CheckReadiness({ path: "check_readiness" }, (e) => (e ? reject(e) : resolve())));
  const latencies = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) latencies.push(await run(next++));
    }),
  );
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const d0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) spawnSync("/bin/true");
  const directMs = Number(process.hrtime.bigint() - d0) / 1e6;
  latencies.sort((x, y) => x - y);
  process.stdout.write(JSON.stringify({ n, concurrency, wallMs, directMs, p50: latencies[Math.floor(n / 2)], p95: latencies[Math.floor(n * 0.95)] }));
  client.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
