import { afterEach, describe, expect, test } from "bun:test";
import { executorForPlatform, getExecutor } from "../../src/executors/registry.ts";

const saved = process.env.SANDBOXLIB_BACKEND;
afterEach(() => {
  if (saved === undefined) delete process.env.SANDBOXLIB_BACKEND;
  else process.env.SANDBOXLIB_BACKEND = saved;
});

describe("getExecutor", () => {
  test("finds each backend by name", () => {
    expect(getExecutor("chroot").name).toBe("chroot");
    expect(getExecutor("linux").name).toBe("linux");
  });

  test("an unknown name is an error naming it", () => {
    expect(() => getExecutor("firejail")).toThrow("unknown backend: firejail (known: linux, chroot; bubblewrap and linux-user-chroot mean linux)");
  });

  test("an unknown name with a newline is shown JSON-escaped: the error stays one line (a batch line's error field too)", () => {
    expect(() => getExecutor("a\nb")).toThrow('unknown backend: "a\\nb" (known: linux, chroot; bubblewrap and linux-user-chroot mean linux)');
  });

  test("the Python library's bubblewrap and linux-user-chroot (or linux_user_chroot) are the linux backend", () => {
    expect(getExecutor("bubblewrap")).toBe(getExecutor("linux"));
    expect(getExecutor("linux-user-chroot")).toBe(getExecutor("linux"));
    expect(getExecutor("linux_user_chroot")).toBe(getExecutor("linux"));
  });

  test("SANDBOXLIB_BACKEND takes the aliases too", () => {
    process.env.SANDBOXLIB_BACKEND = "bubblewrap";
    expect(executorForPlatform(() => {})).toBe(getExecutor("linux"));
  });
});

describe("executorForPlatform", () => {
  test("SANDBOXLIB_BACKEND picks the backend", () => {
    process.env.SANDBOXLIB_BACKEND = "chroot";
    expect(executorForPlatform().name).toBe("chroot");
    process.env.SANDBOXLIB_BACKEND = "linux";
    expect(executorForPlatform().name).toBe("linux");
  });

  test("an unknown SANDBOXLIB_BACKEND warns, then autodetects", () => {
    delete process.env.SANDBOXLIB_BACKEND;
    const detected = executorForPlatform(() => {});
    process.env.SANDBOXLIB_BACKEND = "unknown";
    const warnings: string[] = [];
    expect(executorForPlatform((m) => warnings.push(m))).toBe(detected);
    expect(warnings).toEqual(["unknown SANDBOXLIB_BACKEND value: unknown; detecting the backend instead"]);
  });

  test("on a Linux host as root, the linux backend is the default", () => {
    delete process.env.SANDBOXLIB_BACKEND;
    if (process.geteuid?.() === 0) expect(executorForPlatform().name).toBe("linux");
    else expect(executorForPlatform().unavailableReason()).toContain("must run as root");
  });
});
