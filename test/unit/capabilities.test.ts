import { describe, expect, test } from "bun:test";
import { checkCapabilities, degradeForCapabilities } from "../../src/config/capabilities.ts";
import { getExecutor } from "../../src/executors/registry.ts";
import type { SandboxOptions } from "../../src/config/options.ts";
import { DEFAULT_CAPABILITIES, resolveCapabilities, withoutCapabilities } from "../../src/hardening/capabilities.ts";

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

describe("the command's Linux capabilities", () => {
  test("the default set is Docker's without MKNOD (no device policy here to make it safe)", () => {
    expect([...DEFAULT_CAPABILITIES].sort()).toEqual([
      "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "NET_RAW",
      "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    ]);
    expect(resolveCapabilities([], [])).not.toContain("MKNOD");
  });

  test("--cap-add MKNOD brings it back; adds win over drops, ALL drops the defaults", () => {
    expect(resolveCapabilities(["mknod"], [])).toContain("MKNOD");
    expect(resolveCapabilities(["CAP_MKNOD"], ["ALL"])).toEqual(["MKNOD"]);
    expect(resolveCapabilities([], ["ALL"])).toEqual([]);
  });

  test("a backend can start from its own defaults (withoutCapabilities)", () => {
    const noChroot = withoutCapabilities(DEFAULT_CAPABILITIES, ["sys_chroot"]);
    expect(noChroot).toEqual(DEFAULT_CAPABILITIES.filter((c) => c !== "SYS_CHROOT"));
    expect(resolveCapabilities([], [], noChroot)).not.toContain("SYS_CHROOT");
    expect(resolveCapabilities(["SYS_CHROOT"], [], noChroot)).toContain("SYS_CHROOT");
    expect(() => withoutCapabilities(DEFAULT_CAPABILITIES, ["NO_SUCH"])).toThrow("unknown capability: NO_SUCH");
  });
});
