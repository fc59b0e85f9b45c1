// The signal soak, for longer runs than CI's (test/attack/soak.test.ts):
//   bun scripts/soak.ts [--count N] [--seconds S] [--seed N] [--concurrency N] [--only I]
// Needs root and a built dist/sandboxlib. Prints the seed first, each problem
// as it happens (with the run's command line, to replay it alone with
// --seed S --only I), a summary of how runs ended, and what was left behind.
// Exit status 0 when every run behaved and nothing was left.
import { soak } from "../test/helpers/soak.ts";
import { runSessionFromArgs } from "./session.ts";

await runSessionFromArgs("soak", "runs", 2000, soak, (r) => r.runs);
