import { describe, expect, test } from "bun:test";
import { validateExtraMounts } from "../../src/config/extra-mounts.ts";
import type { ExtraMountEntry } from "../../src/config/types.ts";

describe("validateExtraMounts (Python's validate_extra_mounts)", () => {
  test("null and undefined mean no mounts", () => {
    expect(validateExtraMounts(null)).toEqual([]);
    expect(validateExtraMounts(undefined)).toEqual([]);
  });

  test("a three-element entry gets options ''", () => {
    expect(validateExtraMounts([[null, "/proc", "proc"]])).toEqual([{ source: null, target: "/proc", type: "proc", options: "" }]);
  });

  test("a four-element entry keeps its options", () => {
    expect(validateExtraMounts([["tmpfs", "/tmp", "tmpfs", "size=1m"]])).toEqual([
      { source: "tmpfs", target: "/tmp", type: "tmpfs", options: "size=1m" },
    ]);
  });

  test("an empty mount point is refused with the Python message", () => {
    expect(() => validateExtraMounts([["proc", null, "tmpfs"]])).toThrow('Mount point empty in mount entry ["proc",null,"tmpfs"]');
    expect(() => validateExtraMounts([["proc", "", "tmpfs"]])).toThrow("Mount point empty in mount entry");
  });

  test("an entry of another length is refused with the Python message", () => {
    const two = [["proc", "tmpfs"]] as unknown as ExtraMountEntry[];
    expect(() => validateExtraMounts(two)).toThrow(`Invalid mount entry in 'extra_mounts': ["proc","tmpfs"]`);
    const five = [[null, "/proc", "proc", "ro", "xxx"]] as unknown as ExtraMountEntry[];
    expect(() => validateExtraMounts(five)).toThrow("Invalid mount entry in 'extra_mounts'");
  });

  test("a field that is not a string is refused", () => {
    const bad = [[null, "/proc", 7]] as unknown as ExtraMountEntry[];
    expect(() => validateExtraMounts(bad)).toThrow("Invalid mount entry");
  });
});
