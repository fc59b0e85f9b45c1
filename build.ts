// Builds the single sandboxlib executable: dist/sandboxlib.
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const result = await Bun.build({
  entrypoints: ["src/main.ts"],
  compile: { outfile: "dist/sandboxlib" },
  minify: true,
  sourcemap: "none",
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log("built dist/sandboxlib");
