// The command line shared by scripts/soak.ts and scripts/fuzz.ts: seeded
// sessions longer than CI's, replayable with --seed S --only I.
import { parseArgs } from "node:util";
import type { SessionOptions, SessionReport } from "../test/helpers/rig.ts";

/**
 * Runs `session` with the options the command line gives, prints the seed,
 * each problem, a summary of how its `unit`s ended and what was left behind;
 * exits 0 when every run behaved and nothing was left.
 */
export async function runSessionFromArgs<R extends SessionReport>(
  name: string,
  unit: string,
  defaultCount: number,
  session: (o: SessionOptions) => Promise<R>,
  done: (report: R) => number,
): Promise<never> {
  const { values } = parseArgs({
    options: {
      count: { type: "string", default: String(defaultCount) },
      seconds: { type: "string", default: "600" },
      seed: { type: "string" },
      concurrency: { type: "string", default: "2" },
      only: { type: "string" },
    },
  });
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  console.log(`${name}: seed ${seed}`);
  const report = await session({
    seed,
    count: Number(values.count),
    seconds: Number(values.seconds),
    concurrency: Number(values.concurrency),
    only: values.only === undefined ? undefined : Number(values.only),
    log: (line) => console.log(line),
  });
  console.log(`${name}: ${done(report)} ${unit}, seed ${seed}`);
  for (const [outcome, n] of Object.entries(report.outcomes).sort()) console.log(`  ${String(n).padStart(5)}  ${outcome}`);
  console.log(`${name}: ${report.problems.length} problems; ${report.clean ? "nothing left behind" : "LEFT BEHIND (see above)"}`);
  process.exit(report.problems.length === 0 && report.clean ? 0 : 1);
}
