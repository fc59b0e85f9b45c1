// The host file queries the run path makes through libc instead of node:fs
// (stat, exists, realPath): checked against node:fs on real files.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exists, realPath, stat, SysError } from "../../src/native/libc.ts";

describe("libc file queries", () => {
  const dir = mkdtempSync(join(tmpdir(), "sandboxlib-libc-"));
  writeFileSync(join(dir, "file"), "x");
  symlinkSync("file", join(dir, "link"));
  symlinkSync("missing", join(dir, "dangling"));

  test("stat: type, device and inode as node:fs sees them, through symlinks", () => {
    for (const name of ["", "file", "link"]) {
      const path = join(dir, name);
      const mine = stat(path)!;
      const theirs = statSync(path, { bigint: true });
      expect(mine.isDirectory).toBe(theirs.isDirectory());
      expect(mine.dev).toBe(theirs.dev);
      expect(mine.ino).toBe(theirs.ino);
    }
  });

  test("stat: null for nothing there, an error naming the path otherwise", () => {
    expect(stat(join(dir, "missing"))).toBeNull();
    expect(stat(join(dir, "dangling"))).toBeNull();
    expect(stat(join(dir, "file", "below"))).toBeNull();
    expect(() => stat(join(dir, "x".repeat(300)))).toThrow(SysError);
    expect(() => stat(join(dir, "x".repeat(300)))).toThrow(/^stat .*x{300}: File name too long$/);
  });

  test("exists follows symlinks", () => {
    expect(exists(join(dir, "link"))).toBe(true);
    expect(exists(join(dir, "dangling"))).toBe(false);
  });

  test("realPath resolves like node:fs, and names the path it cannot", () => {
    expect(realPath(join(dir, "link"))).toBe(realpathSync(join(dir, "link")));
    expect(realPath(`${dir}/./file`)).toBe(realpathSync(join(dir, "file")));
    expect(() => realPath(join(dir, "dangling"))).toThrow(`realpath ${join(dir, "dangling")}: No such file or directory`);
  });

  test("cleanup", () => rmSync(dir, { recursive: true }));
});
