// Builds the single sandboxlib executable: dist/sandboxlib.
//
// The native code is compiled here, one way only, with the system's C
// compiler against the system's headers (-Wall -Werror): the helper
// (steps.c, sandbox.c, spawner.c, json-escape.c: a shared object the
// executable dlopens from a memfd) and sandboxlib-init (init.c: a static
// program the sandbox process execs), both embedded in the executable and
// also left in dist/native/ for code run from the sources (tests). The
// records they share with TypeScript come from src/native/layout.ts, as a
// generated header. Without a compiler, one is installed as the test
// dependencies are (Debian, as root: gcc, libc6-dev); else the build fails.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileExecutable } from "./scripts/executable.ts";
import { cHeader, runtimeOffsets } from "./src/native/layout.ts";
import { buildSeccompFilter, currentArch, policiesFor, policyKey } from "./src/hardening/seccomp.ts";

const NATIVE = "src/native";
const HELPER_SOURCES = ["steps.c", "sandbox.c", "spawner.c", "json-escape.c"].map((f) => join(NATIVE, f));
const HELPER_FLAGS = ["-shared", "-fPIC", "-O2", "-fno-strict-aliasing", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror", "-s", "-pthread"];
const INIT_FLAGS = [
  "-static", "-nostdlib", "-nostartfiles", "-O2", "-Wall", "-Werror", "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-fno-tree-loop-distribute-patterns", "-fno-builtin",
  "-fno-pie", "-no-pie", "-Wl,--build-id=none", "-s",
];

/** A build that cannot go on: its message is printed, once the temporary directory is gone. */
class BuildFailure extends Error {}

function fail(message: string): never {
  throw new BuildFailure(message);
}

const run = (argv: string[]) => {
  try {
    return Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  } catch {
    return null; // no such program
  }
};

/** Whether `cc` compiles and links a program against the C library's headers. */
function compilerWorks(dir: string): boolean {
  const probe = join(dir, "probe.c");
  writeFileSync(probe, "#include <stdio.h>\n#include <linux/openat2.h>\nint main(void) { return 0; }\n");
  return run(["cc", probe, "-o", join(dir, "probe")])?.exitCode === 0;
}

/** A working C compiler, installed the way scripts/install-test-deps.sh installs it when there is none. */
function ensureCompiler(dir: string): void {
  if (compilerWorks(dir)) return;
  const root = process.getuid?.() === 0;
  const apt = run(["sh", "-c", "command -v apt-get"])?.exitCode === 0;
  if (!root || !apt) fail("no working C compiler (cc with the C library's headers); install gcc and libc6-dev (Debian) or your system's equivalent, then build again");
  console.warn("build: no working C compiler; installing gcc and libc6-dev");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const argv of [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "gcc", "libc6-dev"]]) {
    const r = Bun.spawnSync(argv, { env, stdout: "ignore", stderr: "pipe" });
    if (r.exitCode !== 0) fail(`${argv.join(" ")} failed: ${r.stderr.toString().trim()}`);
  }
  if (!compilerWorks(dir)) fail("gcc and libc6-dev were installed, but cc still cannot compile a program");
}

function cc(what: string, args: string[], out: string): Uint8Array {
  const r = run(["cc", ...args, "-o", out]);
  if (r?.exitCode !== 0) fail(`cannot compile ${what}:\n${r?.stderr.toString().trim() ?? "cc not found"}`);
  return readFileSync(out);
}

/** Compiles the helper and sandboxlib-init into `dir`; returns them. */
export function buildNative(dir: string): { helper: Uint8Array; init: Uint8Array } {
  ensureCompiler(dir);
  writeFileSync(join(dir, "layout.h"), cHeader());
  const helper = cc("the native helper", [...HELPER_FLAGS, "-I", dir, ...HELPER_SOURCES], join(dir, "sandboxlib-helper.so"));
  const init = cc("sandboxlib-init", [...INIT_FLAGS, "-I", dir, join(NATIVE, "init.c")], join(dir, "sandboxlib-init"));
  return { helper, init };
}

if (import.meta.main) {
  mkdirSync("dist/native", { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "sandboxlib-build-"));
  let native: { helper: Uint8Array; init: Uint8Array } | null = null;
  try {
    native = buildNative(dir);
    // For code run from the sources (tests): src/native/helper.ts loads these.
    copyFileSync(join(dir, "sandboxlib-helper.so"), "dist/native/sandboxlib-helper.so");
    copyFileSync(join(dir, "sandboxlib-init"), "dist/native/sandboxlib-init");
  } catch (e) {
    if (!(e instanceof BuildFailure)) throw e;
    console.error(`build: ${e.message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!native) process.exit(1);
  try {
    await compileExecutable("src/main.ts", "dist/sandboxlib", {
      SANDBOXLIB_EMBEDDED_HELPER: JSON.stringify(native.helper.toBase64()),
      SANDBOXLIB_EMBEDDED_INIT: JSON.stringify(native.init.toBase64()),
      // The record offsets (src/native/offsets.ts), computed now rather than at every start.
      SANDBOXLIB_OFFSETS: JSON.stringify(runtimeOffsets()),
      // The seccomp filters, assembled now rather than at every start.
      SANDBOXLIB_SECCOMP_FILTERS: JSON.stringify(Object.fromEntries(policiesFor(currentArch()).map((p) => [policyKey(p), buildSeccompFilter(p).toBase64()]))),
    });
  } catch (e) {
    for (const log of (e as AggregateError).errors ?? [e]) console.error(log);
    process.exit(1);
  }
  console.log("built dist/sandboxlib");
}
