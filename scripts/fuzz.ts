// The fuzz of sandboxlib's command line, config files and batch lines, for
// longer runs than CI's (test/attack/fuzz.test.ts):
//   bun scripts/fuzz.ts [--count N] [--seconds S] [--seed N] [--concurrency N] [--only I]
// Needs root and a built dist/sandboxlib. Prints the seed first, each problem
// with the case's command line and input (replay one with --seed S --only I),
// a summary of how cases ended, and what was left behind. Exit status 0 when
// every case behaved and nothing was left.
import { parseArgs } from "node:util";
import { fuzz } from "../test/helpers/fuzz.ts";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "5000" },
    seconds: { type: "string", default: "600" },
    seed: { type: "string" },
    concurrency: { type: "string", default: "2" },
    only: { type: "string" },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
console.log(`fuzz: seed ${seed}`);
const report = await fuzz({
  seed,
  count: Number(values.count),
  seconds: Number(values.seconds),
  concurrency: Number(values.concurrency),
  only: values.only === undefined ? undefined : Number(values.only),
  log: (line) => console.log(line),
});
console.log(`fuzz: ${report.cases} cases, seed ${seed}`);
for (const [outcome, n] of Object.entries(report.outcomes).sort()) console.log(`  ${String(n).padStart(5)}  ${outcome}`);
console.log(`fuzz: ${report.problems.length} problems; ${report.clean ? "nothing left behind" : "LEFT BEHIND (see above)"}`);
process.exit(report.problems.length === 0 && report.clean ? 0 : 1);
