// The layers import only downward. Every relative import in src/**/*.ts is
// checked against the table below: a module may import its own layer and the
// layers its row names, nothing else (no upward, no sideways import).
//
//   cli -> runner -> api (src/index.ts) / check -> executors -> supervise -> plan -> config
//   with images, hardening, native and base as leaves below them, ordered
//   among themselves: hardening -> native -> base (hardening reads the
//   caller's capabilities from /proc through native/libc; native encodes the
//   Step vocabulary of base/steps.ts). base imports nothing.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";

const LEAVES = ["native", "hardening", "base"] as const;

/** layer -> the layers it may import (besides itself). */
export const ALLOWED: Record<string, readonly string[]> = {
  base: [],
  native: ["base"], // the Step vocabulary (base/steps.ts) it encodes
  hardening: ["native", "base"], // caller-capabilities.ts reads /proc/self/status via libc
  images: ["native", "base"],
  config: [...LEAVES],
  plan: ["config", ...LEAVES],
  supervise: ["plan", "config", ...LEAVES],
  executors: ["supervise", "plan", "config", "images", ...LEAVES],
  check: ["executors", "supervise", "plan", "config", "images", ...LEAVES],
  api: ["executors", "supervise", "plan", "config", "images", ...LEAVES],
  runner: ["api", "supervise", "config", ...LEAVES], // the Buildbarn runner: sandboxes through the library API
  cli: ["runner", "api", "check", "executors", "supervise", "plan", "config", "images", ...LEAVES],
  main: ["cli", ...LEAVES],
};

const SRC = resolve(import.meta.dir, "../../src");

/** The layer of a file under src/: its first directory, or api/main for the two top files. */
export function layerOf(path: string): string | null {
  const rel = relative(SRC, path);
  if (rel.startsWith("..")) return null; // outside src (package.json)
  if (rel === "index.ts") return "api";
  if (rel === "main.ts") return "main";
  return rel.split("/")[0]!;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Relative specifiers of static, re-export and dynamic imports; comments left out. */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const m of code.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) out.push(m[1]!);
  return out;
}

/** "from -> to" for each import the table does not allow. */
export function violations(files: readonly { path: string; text: string }[]): string[] {
  const bad: string[] = [];
  for (const { path, text } of files) {
    const from = layerOf(path);
    if (from === null) continue;
    for (const spec of importsOf(text)) {
      const to = layerOf(resolve(dirname(path), spec));
      if (to === null || to === from) continue;
      const allowed = ALLOWED[from];
      if (!allowed) bad.push(`${relative(SRC, path)}: layer ${from} is not in the table`);
      else if (!allowed.includes(to)) bad.push(`${relative(SRC, path)} (${from}) imports ${spec} (${to})`);
    }
  }
  return bad;
}

describe("layers", () => {
  test("every src/**/*.ts import goes downward per the table", () => {
    const files = tsFiles(SRC).map((path) => ({ path, text: readFileSync(path, "utf8") }));
    expect(files.length).toBeGreaterThan(50);
    expect(violations(files)).toEqual([]);
  });

  test("an upward or sideways import is caught", () => {
    const at = (p: string, text: string) => ({ path: join(SRC, p), text });
    expect(
      violations([
        at("config/x.ts", 'import { a } from "../plan/steps.ts";'), // upward
        at("hardening/x.ts", 'import { configError } from "../config/errors.ts";'), // leaf to config
        at("native/x.ts", 'import type { Step } from "../plan/steps.ts";'), // leaf to plan
        at("plan/x.ts", 'export { run } from "../supervise/run.ts";'), // re-export, upward
        at("supervise/x.ts", 'const m = await import("../executors/linux.ts");'), // dynamic, upward
        at("base/x.ts", 'import { x } from "../native/libc.ts";'), // base is a leaf
        at("images/x.ts", 'import { y } from "../config/types.ts";'), // sideways
        at("newdir/x.ts", 'import { z } from "../base/errors.ts";'), // unknown layer
      ]),
    ).toEqual([
      "config/x.ts (config) imports ../plan/steps.ts (plan)",
      "hardening/x.ts (hardening) imports ../config/errors.ts (config)",
      "native/x.ts (native) imports ../plan/steps.ts (plan)",
      "plan/x.ts (plan) imports ../supervise/run.ts (supervise)",
      "supervise/x.ts (supervise) imports ../executors/linux.ts (executors)",
      "base/x.ts (base) imports ../native/libc.ts (native)",
      "images/x.ts (images) imports ../config/types.ts (config)",
      "newdir/x.ts: layer newdir is not in the table",
    ]);
    // Downward and same-layer imports pass; comments do not count.
    expect(
      violations([
        at("cli/x.ts", 'import { a } from "../executors/registry.ts";\nimport { b } from "./parse.ts";'),
        at("plan/x.ts", '// import { run } from "../supervise/run.ts";\nimport { c } from "../config/types.ts";'),
      ]),
    ).toEqual([]);
  });
});
