// Builds the single sandboxlib executable: dist/sandboxlib.
//
// When a C compiler is at hand, the native helper (src/native/helper.c) is
// compiled here and embedded, so the executable loads it in well under a
// millisecond instead of compiling it with TinyCC at every start (about 6 ms).
// Without one, the executable compiles it at run time, as in development.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function precompileHelper(): string | null {
  const dir = mkdtempSync(join(tmpdir(), "sandboxlib-build-"));
  try {
    const out = join(dir, "helper.so");
    const cc = Bun.spawnSync(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-s", "-o", out, "src/native/helper.c"], { stderr: "pipe" });
    if (cc.exitCode !== 0) {
      console.warn(`no precompiled helper (the executable will compile it at run time): ${cc.stderr.toString().trim() || "cc failed"}`);
      return null;
    }
    return readFileSync(out).toString("base64");
  } catch {
    console.warn("no C compiler: the executable will compile its helper at run time");
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

mkdirSync("dist", { recursive: true });
const helper = precompileHelper();
const result = await Bun.build({
  entrypoints: ["src/main.ts"],
  compile: { outfile: "dist/sandboxlib" },
  minify: true,
  bytecode: true,
  format: "esm",
  sourcemap: "none",
  define: { SANDBOXLIB_PRECOMPILED_HELPER: JSON.stringify(helper) },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built dist/sandboxlib (${helper ? "precompiled helper" : "helper compiled at run time"})`);
