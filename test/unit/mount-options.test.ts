import { describe, expect, test } from "bun:test";
import {
  MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_RELATIME, parseMountOptions,
} from "../../src/config/mount-options.ts";

describe("parseMountOptions", () => {
  test("flags and data are separated", () => {
    expect(parseMountOptions("ro,nosuid,size=64m,mode=1777", "tmpfs")).toEqual({
      flags: MS_RDONLY | MS_NOSUID,
      data: "size=64m,mode=1777",
      bind: false,
      readOnly: true,
    });
  });

  test("later options override earlier ones", () => {
    expect(parseMountOptions("ro,rw,nodev,dev,noexec", "tmpfs").flags).toBe(MS_NOEXEC);
  });

  test("empty options and fstab-only words give nothing", () => {
    expect(parseMountOptions("", "proc")).toEqual({ flags: 0, data: null, bind: false, readOnly: false });
    expect(parseMountOptions("defaults,noauto,x-systemd.foo,nofail", "proc").flags).toBe(0);
  });

  test("relatime and friends are flags", () => {
    expect(parseMountOptions("relatime", "tmpfs").flags).toBe(MS_RELATIME);
  });

  test("bind as a type or an option makes a recursive bind", () => {
    expect(parseMountOptions("ro", "bind")).toEqual({ flags: MS_BIND | MS_REC | MS_RDONLY, data: null, bind: true, readOnly: true });
    expect(parseMountOptions("bind,nodev", "none").flags).toBe(MS_BIND | MS_REC | MS_NODEV);
    expect(parseMountOptions("rbind", null).bind).toBe(true);
  });

  test("a bind with filesystem options is refused", () => {
    expect(() => parseMountOptions("bind,size=1m", null)).toThrow("bind mount takes no filesystem options: size=1m");
  });

  test("options that act on other mounts are refused", () => {
    expect(() => parseMountOptions("remount,ro", "proc")).toThrow("mount option not supported: remount");
    expect(() => parseMountOptions("shared", "tmpfs")).toThrow("mount option not supported: shared");
  });
});
