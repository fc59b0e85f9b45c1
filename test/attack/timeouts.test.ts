// Attack: a large --timeout or --kill-after overflowed the 32-bit timer and
// fired after 1 ms (issue 13 item 7, contract C7): a build could be killed
// at once by a value that looks generous, with a Node warning on stderr.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type AttackSetting, attackSetting, BACKENDS, runRaw } from "../helpers/attack.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("attack/timeouts.test.ts");

let setting: AttackSetting;
beforeAll(() => {
  if (isRoot) setting = attackSetting("time");
});
afterAll(() => setting?.dispose());

for (const backend of BACKENDS) {
  const run = (...args: string[]) => runRaw(["run", "--backend", backend, "--root", setting.root, ...args]);

  describe.skipIf(!isRoot)(`${backend}: timeouts of any size (C7)`, () => {
    test("--timeout 3000000 and 1000000000 never fire early and print no warning", async () => {
      for (const seconds of ["3000000", "2147484", "1000000000"]) {
        const r = await run("--timeout", seconds, "sh", "-c", "sleep 0.3; echo done");
        expect({ seconds, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ seconds, code: 0, stdout: "done\n", stderr: "" });
      }
    });

    test("--kill-after 3000000 never fires early: a command that handles SIGTERM gets to finish", async () => {
      const r = await run("--dev", "/dev", "--timeout", "0.2", "--kill-after", "3000000", "sh", "-c", "trap 'sleep 0.3; echo finished; exit 0' TERM; sleep 5 & wait");
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 124, stdout: "finished\n", stderr: "sandboxlib: the command timed out after 0.2s\n" });
    });

    test("absurd --timeout and --kill-after values (1e21 seconds, not finite) are usage errors naming the option", async () => {
      for (const option of ["--timeout", "--kill-after"]) {
        for (const value of ["999999999999999999999", "Infinity", "NaN", "1e400"]) {
          const r = await run(option, value, "true");
          expect({ option, value, code: r.code }).toEqual({ option, value, code: 125 });
          expect(r.stderr).toMatch(new RegExp(`^sandboxlib: [^\\n]*${option}[^\\n]*\\n$`));
        }
      }
    });
  });
}
