// The signal soak, for longer runs than CI's (test/attack/soak.test.ts):
//   bun scripts/soak.ts [--count N] [--seconds S] [--seed N] [--concurrency N] [--only I]
// Needs root and a built dist/sandboxlib. Prints the seed first, each problem
// as it happens (with the run's command line, to replay it alone with
// --seed S --only I), a summary of how runs ended, and what was left behind.
// Exit status 0 when every run behaved and nothing was left.
import { parseArgs } from "node:util";
import { soak } from "../test/helpers/soak.ts";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "2000" },
    seconds: { type: "string", default: "600" },
    seed: { type: "string" },
    concurrency: { type: "string", default: "2" },
    only: { type: "string" },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
console.log(`soak: seed ${seed}`);
const report = await soak({
  seed,
  count: Number(values.count),
  seconds: Number(values.seconds),
  concurrency: Number(values.concurrency),
  only: values.only === undefined ? undefined : Number(values.only),
  log: (line) => console.log(line),
});
console.log(`soak: ${report.runs} runs, seed ${seed}`);
for (const [outcome, n] of Object.entries(report.outcomes).sort()) console.log(`  ${String(n).padStart(5)}  ${outcome}`);
console.log(`soak: ${report.problems.length} problems; ${report.clean ? "nothing left behind" : "LEFT BEHIND (see above)"}`);
process.exit(report.problems.length === 0 && report.clean ? 0 : 1);
