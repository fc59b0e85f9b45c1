// The fuzz of sandboxlib's command line, config files and batch lines, for
// longer runs than CI's (test/attack/fuzz.test.ts):
//   bun scripts/fuzz.ts [--count N] [--seconds S] [--seed N] [--concurrency N] [--only I]
// Needs root and a built dist/sandboxlib. Prints the seed first, each problem
// with the case's command line and input (replay one with --seed S --only I),
// a summary of how cases ended, and what was left behind. Exit status 0 when
// every case behaved and nothing was left.
import { fuzz } from "../test/helpers/fuzz.ts";
import { runSessionFromArgs } from "./session.ts";

await runSessionFromArgs("fuzz", "cases", 5000, fuzz, (r) => r.cases);
