import { describe, expect, test } from "bun:test";
import {
  DEFAULT_MOUNT_FLAGS, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_RELATIME, parseMountOptions,
} from "../../src/config/mount-options.ts";

/** What every mount gets unless its options say `dev` or `suid`. */
const SAFE = MS_NOSUID | MS_NODEV;

describe("parseMountOptions", () => {
  test("flags and data are separated", () => {
    expect(parseMountOptions("ro,nosuid,size=64m,mode=1777", "tmpfs")).toEqual({
      flags: MS_RDONLY | SAFE,
      data: "size=64m,mode=1777",
      bind: false,
      readOnly: true,
    });
  });

  test("later options override earlier ones", () => {
    expect(parseMountOptions("ro,rw,nodev,dev,noexec", "tmpfs").flags).toBe(MS_NOEXEC | MS_NOSUID);
    expect(parseMountOptions("dev,nodev,suid,nosuid", "tmpfs").flags).toBe(SAFE);
  });

  test("empty options and fstab-only words give only the safe defaults", () => {
    expect(DEFAULT_MOUNT_FLAGS).toBe(SAFE);
    expect(parseMountOptions("", "proc")).toEqual({ flags: SAFE, data: null, bind: false, readOnly: false });
    expect(parseMountOptions("defaults,noauto,x-systemd.foo,nofail", "proc").flags).toBe(SAFE);
  });

  test("dev and suid said explicitly are kept: the user's choice", () => {
    expect(parseMountOptions("dev", "tmpfs").flags).toBe(MS_NOSUID);
    expect(parseMountOptions("suid", "tmpfs").flags).toBe(MS_NODEV);
    expect(parseMountOptions("suid,dev", "bind").flags).toBe(MS_BIND | MS_REC);
  });

  test("relatime and friends are flags", () => {
    expect(parseMountOptions("relatime", "tmpfs").flags).toBe(MS_RELATIME | SAFE);
  });

  test("bind as a type or an option makes a recursive bind", () => {
    expect(parseMountOptions("ro", "bind")).toEqual({ flags: MS_BIND | MS_REC | MS_RDONLY | SAFE, data: null, bind: true, readOnly: true });
    expect(parseMountOptions("bind,nodev", "none").flags).toBe(MS_BIND | MS_REC | SAFE);
    expect(parseMountOptions("rbind", null).bind).toBe(true);
  });

  test("a bind with filesystem options is refused", () => {
    expect(() => parseMountOptions("bind,size=1m", null)).toThrow("bind mount takes no filesystem options: size=1m");
  });

  test("options that act on other mounts are refused", () => {
    expect(() => parseMountOptions("shared", "tmpfs")).toThrow("mount option not supported: shared");
    expect(() => parseMountOptions("move", null)).toThrow("mount option not supported: move");
  });

  test("remount,ro is a read-only mount of the target, as the Python linux-user-chroot backend made it", () => {
    const readOnly = { flags: MS_BIND | MS_REC | MS_RDONLY | SAFE, data: null, bind: false, readOnly: true, remount: true as const };
    expect(parseMountOptions("remount,ro", null)).toEqual(readOnly);
    expect(parseMountOptions("remount,bind,ro", "none")).toEqual(readOnly);
    expect(parseMountOptions("ro,remount", "")).toEqual(readOnly);
  });

  test("any other remount is refused, saying why", () => {
    expect(() => parseMountOptions("remount,ro", "proc")).toThrow("mount option remount takes no filesystem type: proc");
    expect(() => parseMountOptions("remount", null)).toThrow("mount option not supported: remount without ro");
    expect(() => parseMountOptions("remount,rw", null)).toThrow("mount option not supported: remount without ro");
    expect(() => parseMountOptions("remount,ro,size=1m", null)).toThrow("remount takes no filesystem options: size=1m");
  });
});
