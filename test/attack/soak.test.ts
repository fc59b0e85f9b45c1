// The signal soak, bounded for CI (scripts/soak.ts runs it longer): some
// hundreds of runs of both backends killed with SIGKILL, SIGTERM or SIGINT at
// random moments; every exit documented, at most one line on stderr, and
// nothing left behind (mounts, processes, cgroups, mount points, temporary
// directories). SANDBOXLIB_SOAK_SEED replays a session.
import { describe, expect, test } from "bun:test";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";
import { describeLeftovers } from "../helpers/rig.ts";
import { soak } from "../helpers/soak.ts";

requireRootNote("attack/soak.test.ts");

const SEED = process.env.SANDBOXLIB_SOAK_SEED ? Number(process.env.SANDBOXLIB_SOAK_SEED) : Math.floor(Math.random() * 2 ** 31);

describe.skipIf(!isRoot)("signal soak", () => {
  test("runs killed at random moments exit as documented and leave nothing behind", async () => {
    console.log(`signal soak: seed ${SEED} (replay: SANDBOXLIB_SOAK_SEED=${SEED}, or bun scripts/soak.ts --seed ${SEED})`);
    const report = await soak({ seed: SEED, count: 300, seconds: 40, concurrency: 2 });
    console.log(`signal soak: ${report.runs} runs, ${report.problems.length} problems`);
    expect(report.runs).toBeGreaterThanOrEqual(100);
    // The first few problems in full (each names its run, to replay with --only).
    expect({ problems: report.problems.length, first: report.problems.slice(0, 3) }).toEqual({ problems: 0, first: [] });
    expect(describeLeftovers(report.leftovers)).toBe("");
  }, 90_000);
});
