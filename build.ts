// Builds the single sandboxlib executable: dist/sandboxlib.
//
// When a C compiler is at hand, the native helper (src/native/helper.c) is
// compiled here and embedded, so the executable loads it in well under a
// millisecond instead of compiling it with TinyCC at every start (about 6 ms).
// Without one, the executable compiles it at run time, as in development.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileExecutable } from "./scripts/executable.ts";
import { buildSeccompFilter, currentArch, policiesFor, policyKey } from "./src/hardening/seccomp.ts";

/** Compiles with the system's C compiler; base64 of the output, or null (and why) without one. */
function compile(what: string, args: string[]): string | null {
  const dir = mkdtempSync(join(tmpdir(), "sandboxlib-build-"));
  try {
    const out = join(dir, "out");
    const cc = Bun.spawnSync(["cc", ...args, "-o", out], { stderr: "pipe" });
    if (cc.exitCode !== 0) {
      console.warn(`no precompiled ${what}: ${cc.stderr.toString().trim() || "cc failed"}`);
      return null;
    }
    return readFileSync(out).toString("base64");
  } catch {
    console.warn(`no C compiler: no precompiled ${what}`);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The native helper, loaded with dlopen (else compiled by TinyCC at start). */
const precompileHelper = () => compile("helper (the executable will compile it at run time)", ["-shared", "-fPIC", "-O2", "-fno-strict-aliasing", "-Wall", "-s", "src/native/helper.c"]);

/** sandboxlib-init, the sandbox's PID 1 (else the init stays in sandboxlib's memory). */
const precompileInit = () =>
  compile("init (the sandbox init will share sandboxlib's memory)", [
    "-static", "-nostdlib", "-nostartfiles", "-O2", "-Wall", "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
    "-fno-pie", "-no-pie", "-Wl,--build-id=none", "-s", "src/native/init.c",
  ]);

mkdirSync("dist", { recursive: true });
const helper = precompileHelper();
const init = precompileInit();
try {
  await compileExecutable("src/main.ts", "dist/sandboxlib", {
    SANDBOXLIB_PRECOMPILED_HELPER: JSON.stringify(helper),
    SANDBOXLIB_PRECOMPILED_INIT: JSON.stringify(init),
    // The seccomp filters, assembled now rather than at every start.
    SANDBOXLIB_SECCOMP_FILTERS: JSON.stringify(Object.fromEntries(policiesFor(currentArch()).map((p) => [policyKey(p), buildSeccompFilter(p).toBase64()]))),
  });
} catch (e) {
  for (const log of (e as AggregateError).errors ?? [e]) console.error(log);
  process.exit(1);
}
console.log(`built dist/sandboxlib (${helper ? "precompiled helper" : "helper compiled at run time"}, ${init ? "separate init" : "init in sandboxlib's memory"})`);
