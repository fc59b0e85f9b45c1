// Reading /proc/PID/stat for the sweep sandboxlib makes when a chroot
// sandbox's init was killed (src/supervise/leftovers.ts).
import { describe, expect, test } from "bun:test";
import { parseStat } from "../../src/supervise/leftovers.ts";

describe("parseStat", () => {
  test("state and session, after the process name", () => {
    expect(parseStat("4242 (sleep) S 4200 4242 4242 0 -1 4194560 95 0 0 0 0 0 0 0 20 0 1 0 72051 2453504\n")).toEqual({ state: "S", session: 4242 });
  });

  test("a name with spaces and parentheses does not shift the fields", () => {
    expect(parseStat("17 (a) b (c) Z 1 17 9 0 -1")).toEqual({ state: "Z", session: 9 });
  });

  test("text that is not a stat line gives null", () => {
    expect(parseStat("")).toBeNull();
    expect(parseStat("12 (x) R 1")).toBeNull();
  });
});
