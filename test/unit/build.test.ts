// build.ts compiles the native code one way only: with a C compiler, or
// not at all (a clear message, exit 1), never a build that lacks it.
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const buildDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith("sandboxlib-build-"));

test("without a C compiler (and no way to install one), the build fails and says what to install", () => {
  const root = join(import.meta.dir, "../..");
  const before = buildDirs();
  const r = Bun.spawnSync([process.execPath, "build.ts"], { cwd: root, env: { PATH: "/nonexistent", HOME: process.env.HOME ?? "/" }, stdout: "pipe", stderr: "pipe" });
  expect([r.exitCode, r.stderr.toString()]).toEqual([
    1,
    "build: no working C compiler (cc with the C library's headers); install gcc and libc6-dev (Debian) or your system's equivalent, then build again\n",
  ]);
  // Its temporary directory goes too.
  expect(buildDirs().filter((d) => !before.includes(d))).toEqual([]);
});
