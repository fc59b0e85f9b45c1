// The Python sandboxlib's functional suite (tests/test_all.py), through the
// library API, for both backends, as root against a real busybox rootfs.
// Where Python marked the chroot backend xfail, ours must refuse clearly.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STDOUT, executorForPlatform, getExecutor, SandboxError, type Executor } from "../../src/index.ts";
import { hostMountinfo, isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("python-suite.test.ts");
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

const FILE_IS_WRITABLE = [
  "sh",
  "-c",
  `if (exec 2>&-; echo x >> "$1"); then printf 'Wrote data to %s.' "$1"; else printf "Couldn't open %s for writing." "$1"; exit 1; fi`,
  "test-file-is-writable",
];
const FILE_EXISTS = ["sh", "-c", `if [ -e "$1" ]; then printf '%s exists' "$1"; else printf '%s does not exist' "$1"; exit 1; fi`, "exists"];

let rootfs = "";
let scratch = "";
let mountinfoBefore = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-py-"));
  mountinfoBefore = hostMountinfo();
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(scratch, { recursive: true, force: true });
});

for (const backend of ["chroot", "linux"] as const) {
  describe.skipIf(!isRoot)(`${backend} backend`, () => {
    const ex: Executor = getExecutor(backend);

    test("test_no_output", async () => {
      const r = await ex.runSandbox(["echo", "xyzzy"], { stdout: null, stderr: null });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBeNull();
      expect(r.stderr).toBeNull();
    });

    test("test_output", async () => {
      let r = await ex.runSandbox(["echo", "xyzzy"]);
      expect([r.exitCode, text(r.stdout), text(r.stderr)]).toEqual([0, "xyzzy\n", ""]);
      r = await ex.runSandbox(["sh", "-c", "echo xyzzy >&2; exit 11"]);
      expect([r.exitCode, text(r.stdout), text(r.stderr)]).toEqual([11, "", "xyzzy\n"]);
    });

    test("test_output_redirection (files, then stderr merged into stdout)", async () => {
      const outPath = join(scratch, `${backend}-out.txt`);
      const errPath = join(scratch, `${backend}-err.txt`);
      let out = openSync(outPath, "w");
      let err = openSync(errPath, "w");
      const cmd = ["sh", "-c", "echo abcde; echo xyzzy >&2"];
      expect(await ex.runSandboxWithRedirection(cmd, { stdout: out, stderr: err })).toBe(0);
      closeSync(out);
      closeSync(err);
      expect(readFileSync(outPath, "utf8")).toBe("abcde\n");
      expect(readFileSync(errPath, "utf8")).toBe("xyzzy\n");
      out = openSync(outPath, "w");
      expect(await ex.runSandboxWithRedirection(cmd, { stdout: out, stderr: STDOUT })).toBe(0);
      closeSync(out);
      expect(readFileSync(outPath, "utf8")).toBe("abcde\nxyzzy\n");
    });

    test("test_current_working_directory", async () => {
      const r = await ex.runSandbox(["pwd"], { cwd: scratch });
      expect([r.exitCode, text(r.stdout), text(r.stderr)]).toEqual([0, `${scratch}\n`, ""]);
    });

    test("test_environment: the given env is the whole environment", async () => {
      const r = await ex.runSandbox(["env"], { env: { foo: "bar" } });
      expect([r.exitCode, text(r.stdout), text(r.stderr)]).toEqual([0, "foo=bar\n", ""]);
    });

    test("test_isolated_network", async () => {
      const cmd = ["sh", "-c", "cat /proc/net/dev | sed 1,2d | cut -f1 -d:"];
      if (backend === "chroot") {
        await expect(ex.runSandbox(cmd, { network: "isolated" })).rejects.toThrow("network=isolated is not supported by the chroot backend");
        return;
      }
      const r = await ex.runSandbox(cmd, { network: "isolated" });
      expect([r.exitCode, text(r.stdout)?.trim(), text(r.stderr)]).toEqual([0, "lo", ""]);
    });

    test("test_mount_proc", async () => {
      const r = await ex.runSandbox([...FILE_EXISTS, "/proc/self"], { filesystemRoot: rootfs, extraMounts: [[null, "/proc", "proc"]] });
      expect([text(r.stderr), text(r.stdout), r.exitCode]).toEqual(["", "/proc/self exists", 0]);
    });

    test("test_mount_tmpfs", async () => {
      const r = await ex.runSandbox(
        ["sh", "-c", 'grep " /dev/shm " /proc/mounts | cut -d" " -f3'],
        { filesystemRoot: rootfs, extraMounts: [[null, "/proc", "proc"], [null, "/dev/shm", "tmpfs"]] },
      );
      expect([text(r.stderr), text(r.stdout), r.exitCode]).toEqual(["", "tmpfs\n", 0]);
    });

    test("test_invalid_mount_specs", async () => {
      await expect(ex.runSandbox(["true"], { extraMounts: [["proc", null, "tmpfs"]] })).rejects.toThrow(
        'Mount point empty in mount entry ["proc",null,"tmpfs"]',
      );
      await expect(ex.runSandbox(["true"], { extraMounts: [["proc", "tmpfs"]] as never })).rejects.toThrow(
        `Invalid mount entry in 'extra_mounts': ["proc","tmpfs"]`,
      );
    });

    const writable = [
      ["test_none_writable", "none", "Couldn't open /data/1/canary for writing.", 1],
      ["test_some_writable", ["/data/1"], "Wrote data to /data/1/canary.", 0],
      ["test_mount_point_writable", ["/data"], "Wrote data to /data/1/canary.", 0],
    ] as const;
    for (const [name, paths, expected, code] of writable) {
      test(name, async () => {
        const run = () => ex.runSandbox([...FILE_IS_WRITABLE, "/data/1/canary"], { filesystemRoot: rootfs, filesystemWritablePaths: paths });
        if (backend === "chroot") {
          // Python: xfail("chroot backend doesn't support read-only paths").
          await expect(run()).rejects.toThrow("filesystem_writable_paths=");
          return;
        }
        const r = await run();
        expect([text(r.stderr), text(r.stdout), r.exitCode]).toEqual(["", expected, code]);
      });
    }

    test("test_all_writable", async () => {
      const r = await ex.runSandbox([...FILE_IS_WRITABLE, "/data/1/canary"], { filesystemRoot: rootfs, filesystemWritablePaths: "all" });
      expect([text(r.stderr), text(r.stdout), r.exitCode]).toEqual(["", "Wrote data to /data/1/canary.", 0]);
    });

    test("test_sandboxlib_backend_env_var", () => {
      const saved = process.env.SANDBOXLIB_BACKEND;
      process.env.SANDBOXLIB_BACKEND = backend;
      try {
        expect(executorForPlatform()).toBe(ex);
      } finally {
        if (saved === undefined) delete process.env.SANDBOXLIB_BACKEND;
        else process.env.SANDBOXLIB_BACKEND = saved;
      }
    });

    test("errors are SandboxErrors with exit statuses", async () => {
      const e = await ex.runSandbox(["no-such-command"], { filesystemRoot: rootfs }).catch((x) => x);
      expect(e).toBeInstanceOf(SandboxError);
      expect([e.kind, e.exitCode, e.message]).toEqual(["not-found", 127, "command not found: no-such-command"]);
    });

    test("nothing is left mounted on the host", () => {
      expect(hostMountinfo()).toBe(mountinfoBefore);
    });
  });
}

test.skipIf(!isRoot)("test_executor_for_platform", async () => {
  const r = await executorForPlatform().runSandbox(["echo", "xyzzy"]);
  expect([r.exitCode, text(r.stdout), text(r.stderr)]).toEqual([0, "xyzzy\n", ""]);
});
