import { describe, expect, test } from "bun:test";
import { checkCapabilities, degradeForCapabilities } from "../../src/config/capabilities.ts";
import { getExecutor } from "../../src/executors/registry.ts";
import type { SandboxOptions } from "../../src/config/options.ts";

const chroot = getExecutor("chroot");
const linux = getExecutor("linux");

describe("CAPABILITIES", () => {
  test("chroot supports only the undefined/all values", () => {
    expect(chroot.CAPABILITIES).toMatchObject({ network: ["undefined"], mounts: ["undefined"], filesystem_writable_paths: ["all"] });
  });

  test("linux supports isolation and writable-path lists", () => {
    expect(linux.CAPABILITIES).toMatchObject({
      network: ["undefined", "isolated"],
      mounts: ["undefined", "isolated"],
      filesystem_writable_paths: ["all", "none", "any"],
    });
  });

  test("process control and hardening are listed for both; namespaces and hostname for linux only", () => {
    for (const feature of ["timeout", "signal_forwarding", "seccomp", "capabilities", "cgroup_limits", "status_fd", "die_with_parent"]) {
      expect(chroot.CAPABILITIES.features).toContain(feature);
      expect(linux.CAPABILITIES.features).toContain(feature);
    }
    expect(linux.CAPABILITIES.features).toContain("hostname");
    expect(chroot.CAPABILITIES.features).not.toContain("hostname");
    expect(chroot.CAPABILITIES.features).not.toContain("pid_namespace");
  });
});

describe("degradeConfigForCapabilities", () => {
  const inConfig: SandboxOptions = { mounts: "isolated", network: "isolated", filesystemWritablePaths: ["/tmp"] };

  test("chroot falls back to undefined/all and warns for each setting (Python test)", () => {
    const warnings: string[] = [];
    const out = chroot.degradeConfigForCapabilities({ ...inConfig }, (m) => warnings.push(m));
    expect(out).toEqual({ mounts: "undefined", network: "undefined", filesystemWritablePaths: "all" });
    expect(warnings).toEqual([
      "Unable to set network=isolated in a chroot sandbox, falling back to network=undefined",
      "Unable to set mounts=isolated in a chroot sandbox, falling back to mounts=undefined",
      'Unable to set filesystem_writable_paths=["/tmp"] in a chroot sandbox, falling back to filesystem_writable_paths=all',
    ]);
  });

  test("linux returns its input unchanged", () => {
    const warnings: string[] = [];
    expect(linux.degradeConfigForCapabilities({ ...inConfig }, (m) => warnings.push(m))).toEqual({ ...inConfig });
    expect(warnings).toEqual([]);
  });

  test("warn=false degrades silently; other options pass through", () => {
    const settings: SandboxOptions = { network: "isolated", cwd: "/x" };
    const out = degradeForCapabilities(settings, chroot.CAPABILITIES, "chroot", false);
    expect(out).toEqual({ network: "undefined", cwd: "/x" });
  });

  test("without degrading, an unsupported setting is an error naming it and the backend", () => {
    expect(() => checkCapabilities({ network: "isolated" }, chroot.CAPABILITIES, "chroot")).toThrow(
      "network=isolated is not supported by the chroot backend",
    );
    expect(() => checkCapabilities({ filesystemWritablePaths: "none" }, chroot.CAPABILITIES, "chroot")).toThrow(
      "filesystem_writable_paths=none is not supported by the chroot backend",
    );
    expect(() => checkCapabilities({ network: "isolated", filesystemWritablePaths: ["/a"] }, linux.CAPABILITIES, "linux")).not.toThrow();
  });
});
