// Attack: a tiny --memory gets sandboxlib itself killed by the OOM killer
// (issue 13 item 3, contract C3): the command joined the memory cgroup while
// it still shared sandboxlib's memory. The host's cgroups are only used
// through sandboxlib; every sandboxlib is run to completion.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type AttackSetting, attackSetting, BACKENDS, runRaw } from "../helpers/attack.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/memory.test.ts");

let setting: AttackSetting;
beforeAll(() => {
  if (isRoot) setting = attackSetting("mem");
});
afterAll(() => setting?.dispose());

const HOG = ["awk", "BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }"];

for (const backend of BACKENDS) {
  const run = (args: string[], opts?: Parameters<typeof runRaw>[1]) => runRaw(["run", "--backend", backend, "--root", setting.root, ...args], opts);

  describe.skipIf(!isRoot)(`${backend}: memory limits (C3)`, () => {
    test("--memory below the minimum (512, 4096, 16k) is exit 125, one line naming --memory, the value and the minimum", async () => {
      for (const value of ["512", "4096", "16k"]) {
        const r = await run(["--memory", value, "--json", "true"]);
        expect({ value, signal: r.signal, code: r.code }).toEqual({ value, signal: null, code: 125 });
        expect(r.stderr).toMatch(/^sandboxlib: [^\n]*--memory[^\n]*\n$/);
        expect(r.stderr).toMatch(value === "16k" ? /16k|16384/ : new RegExp(`\\b${value}\\b`));
        expect(r.stderr).toMatch(/minimum|at least/i);
      }
    });

    test('a config\'s "memory": 1.5 is exit 125 with one line naming memory, never a killed sandboxlib', async () => {
      const r = await run(["--config", "-", "true"], { stdin: JSON.stringify({ memory: 1.5 }) });
      expect({ signal: r.signal, code: r.code }).toEqual({ signal: null, code: 125 });
      expect(r.stderr).toMatch(/^sandboxlib: [^\n]*memory[^\n]*\n$/);
    });

    test("a command exceeding a valid limit (24M) is killed (137, oom_killed) and sandboxlib survives to say so", async () => {
      const r = await run(["--memory", "24M", "--json", ...HOG]);
      expect({ signal: r.signal, code: r.code }).toEqual({ signal: null, code: 137 });
      expect(JSON.parse(r.stdout)).toMatchObject({ exit_code: 137, oom_killed: true, setup_failed: false });
    });

    test("the out-of-memory line is printed only when the command itself was killed, not a child of it", async () => {
      // awk, the biggest process in the cgroup, is the one killed; the command (sh) exits 3.
      const r = await run(["--memory", "32M", "sh", "-c", `${HOG.map((a) => `'${a}'`).join(" ")}; exit 3`]);
      expect({ signal: r.signal, code: r.code }).toEqual({ signal: null, code: 3 });
      expect(r.stderr).not.toContain("out of memory");
    });

    test("in batch, a line with a tiny limit does not take the other lines down", async () => {
      const line = (extra: object) => JSON.stringify({ command: ["true"], filesystem_root: setting.root, backend, ...extra });
      const r = await runRaw(["batch", "-"], { stdin: [line({}), line({ memory: 4096 }), line({ memory: "512" }), line({})].join("\n") + "\n" });
      expect({ signal: r.signal, code: r.code }).toEqual({ signal: null, code: 0 });
      const results = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(results.map((x) => [x.line, x.exit_code])).toEqual([[1, 0], [2, 125], [3, 125], [4, 0]]);
      expect(results[1].error).toContain("memory");
    });
  });
}
