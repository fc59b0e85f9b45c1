// The fuzz of command lines, config files and batch lines, bounded for CI
// (scripts/fuzz.ts runs it longer): every exit documented, a 125 with exactly
// one line `sandboxlib: ...`, no internal error, stack trace or crash, a NUL
// byte in a config's strings refused naming the field, and nothing left
// behind. SANDBOXLIB_FUZZ_SEED replays a session.
import { describe, expect, test } from "bun:test";
import { fuzz } from "../helpers/fuzz.ts";
import { describeLeftovers } from "../helpers/rig.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/fuzz.test.ts");

const SEED = process.env.SANDBOXLIB_FUZZ_SEED ? Number(process.env.SANDBOXLIB_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

describe.skipIf(!isRoot)("fuzz", () => {
  test("random and mutated command lines, configs and batch lines get documented, one-line answers and leave nothing", async () => {
    console.log(`fuzz: seed ${SEED} (replay: SANDBOXLIB_FUZZ_SEED=${SEED}, or bun scripts/fuzz.ts --seed ${SEED})`);
    const report = await fuzz({ seed: SEED, count: 400, seconds: 30, concurrency: 2 });
    console.log(`fuzz: ${report.cases} cases, ${report.problems.length} problems`);
    expect(report.cases).toBeGreaterThanOrEqual(100);
    // The first few problems in full (each names its case, to replay with --only).
    expect({ problems: report.problems.length, first: report.problems.slice(0, 3) }).toEqual({ problems: 0, first: [] });
    expect(describeLeftovers(report.leftovers)).toBe("");
  }, 90_000);
});
