// The records TypeScript and the native helper share are defined once, in
// src/native/layout.ts; the C structs are generated from it. This compiles
// a program that prints what the C compiler made of them (offsetof, sizeof
// of every field) and compares that with the TypeScript offsets.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allFields, cHeader, OPS, SPAWN, STEP } from "../../src/native/layout.ts";

const dir = mkdtempSync(join(tmpdir(), "sandboxlib-layout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compileAndRun(source: string): string {
  writeFileSync(join(dir, "layout.h"), cHeader());
  writeFileSync(join(dir, "probe.c"), source);
  const cc = Bun.spawnSync(["cc", "-Wall", "-Werror", "-I", dir, join(dir, "probe.c"), "-o", join(dir, "probe")], { stderr: "pipe" });
  if (cc.exitCode !== 0) throw new Error(cc.stderr.toString());
  return Bun.spawnSync([join(dir, "probe")]).stdout.toString();
}

describe("the TypeScript/C layout", () => {
  test("every field's offset and size, and each record's size, as the C compiler lays them out", () => {
    const rows = allFields();
    const lines = rows.map(
      ({ struct, member }) => `  printf("${struct} ${member} %zu %zu\\n", offsetof(struct ${struct}, ${member}), sizeof(((struct ${struct} *)0)->${member}));\n`,
    );
    const program = `#include <stdio.h>\n#include "layout.h"\nint main(void) {\n${lines.join("")}  printf("sizeof sbx_spawn %zu\\nsizeof sbx_step %zu\\n", sizeof(struct sbx_spawn), sizeof(struct sbx_step));\n  return 0;\n}\n`;
    const expected = [...rows.map((r) => `${r.struct} ${r.member} ${r.offset} ${r.size}`), `sizeof sbx_spawn ${SPAWN.size}`, `sizeof sbx_step ${STEP.size}`];
    expect(compileAndRun(program).trim().split("\n")).toEqual(expected);
  });

  test("op codes: distinct, and the C header's are the table's", () => {
    const codes = Object.values(OPS).map((o) => o.code);
    expect(new Set(codes).size).toBe(codes.length);
    const lines = Object.keys(OPS).map((op) => `  printf("${op} %d\\n", OP_${op.replace(/-/g, "_").toUpperCase()});\n`);
    const out = compileAndRun(`#include <stdio.h>\n#include "layout.h"\nint main(void) {\n${lines.join("")}  return 0;\n}\n`);
    expect(out.trim().split("\n")).toEqual(Object.entries(OPS).map(([op, { code }]) => `${op} ${code}`));
  });

  test("no field overlaps another of its record (each op's arguments apart from the step's header)", () => {
    for (const fields of [SPAWN.fields, ...Object.values(OPS).map((o) => [...STEP.fields, ...o.args.fields])]) {
      const sorted = [...fields].sort((a, b) => a.offset - b.offset);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.offset).toBeGreaterThanOrEqual(sorted[i - 1]!.offset + (sorted[i - 1]!.type === "i32" ? 4 : 8));
    }
  });
});
