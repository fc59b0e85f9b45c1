// Captures BYTES of a sandboxed command's stdout in-process with the library
// (stdout: CAPTURE), the path a Bun program takes to get a command's output.
// Usage: bun bench/capture-library.ts ROOT BYTES   (prints one JSON object)
import { CAPTURE, getExecutor } from "../src/index.ts";

const [root, bytes] = [process.argv[2], Number(process.argv[3])];
if (!root || !Number.isInteger(bytes) || bytes < 1) {
  console.error("usage: bun bench/capture-library.ts ROOT BYTES");
  process.exit(2);
}

const start = performance.now();
const r = await getExecutor("linux").runSandbox(["sh", "-c", `head -c ${bytes} /dev/zero`], {
  filesystemRoot: root,
  extraMounts: [[null, "/dev", "dev"]],
  stdout: CAPTURE,
  stderr: null,
});
const ms = performance.now() - start;
const got = r.stdout?.byteLength ?? 0;
if (r.exitCode !== 0 || got !== bytes) {
  console.error(`capture failed: exit ${r.exitCode}, ${got} of ${bytes} bytes`);
  process.exit(1);
}
console.log(JSON.stringify({ ms, bytes: got }));
