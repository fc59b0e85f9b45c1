// Small C programs the tests run inside sandboxes (test/fixtures), built
// statically so that they run in a busybox root filesystem.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Compiles test/fixtures/<name>.c into <root>/bin/<name>. */
export function buildFixture(name: string, root: string): string {
  const out = join(root, "bin", name);
  const cc = Bun.spawnSync(["cc", "-static", "-O2", "-o", out, join(import.meta.dir, "../fixtures", `${name}.c`)], { stderr: "pipe" });
  if (cc.exitCode !== 0) throw new Error(`cannot build fixture ${name} (needs cc and static glibc: scripts/install-test-deps.sh): ${cc.stderr}`);
  return `/bin/${name}`;
}

/** Pids of host processes running `sleep <marker>`. */
export function sleepers(marker: string): number[] {
  const found: number[] = [];
  for (const entry of new Bun.Glob("[0-9]*").scanSync({ cwd: "/proc", onlyFiles: false })) {
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("sleep") && argv[1] === marker) found.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return found;
}
