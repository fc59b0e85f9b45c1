// Root filesystems from images, through the compiled executable: tarballs in
// every compression, OCI layouts (directory and tar) with whiteouts and
// defaults, App Container images, hostile tarballs, and the temporary root's
// removal after success, failure and SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, runCli } from "../helpers/cli.ts";
import { aciImage, craftedTar, ociLayout, rootfsTarballs, tarOf } from "../helpers/images.ts";
import { isRoot, makeRootfs, removeRootfs, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("images.test.ts");

let rootfs = "";
let work = "";
let scratchTmp = "";
let tarballs: Record<string, string> = {};
let oci = "";
let ociTar = "";
let aci = "";
beforeAll(() => {
  if (!isRoot) return;
  rootfs = makeRootfs();
  work = mkdtempSync(join(tmpdir(), "sandboxlib-images-"));
  // Temporary roots go here, so the tests can see them come and go.
  scratchTmp = join(work, "tmp");
  mkdirSync(scratchTmp);
  tarballs = rootfsTarballs(rootfs, work);
  oci = ociLayout(rootfs, work);
  ociTar = tarOf(oci, join(work, "oci-image.tar"));
  aci = aciImage(rootfs, work);
});
afterAll(() => {
  if (!isRoot) return;
  removeRootfs(rootfs);
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({ SANDBOXLIB_TMPDIR: scratchTmp });
const leftovers = () => readdirSync(scratchTmp);

describe.skipIf(!isRoot)("tarballs, detected by content", () => {
  for (const kind of ["plain", "gzip", "xz", "zstd", "bzip2"]) {
    test(`${kind}`, async () => {
      const r = await runCli(["run", "--root", tarballs[kind]!, "--proc", "/proc", "sh", "-c", "cat /data/1/canary; echo; ls /bin/busybox"], { env: env() });
      expect(r).toEqual({ code: 0, stdout: "Please don't overwrite me.\n/bin/busybox\n", stderr: "" });
      expect(leftovers()).toEqual([]);
    });
  }

  test("ownership, modes, symlinks and hard links are restored", async () => {
    const r = await runCli(["run", "--root", tarballs.gzip!, "sh", "-c", "stat -c '%u:%g %a' /tmp /bin/busybox; readlink /bin/sh"], { env: env() });
    expect(r.stdout).toBe("0:0 1777\n0:0 755\nbusybox\n");
  });
});

describe.skipIf(!isRoot)("extraction as root would do it", () => {
  test("owners, set-id modes, hard links, device nodes and FIFOs", async () => {
    const path = await craftedTar(join(work, "as-root.tar"), [
      { name: "./", type: "directory" },
      { name: "bin/", type: "directory" },
      { name: "bin/busybox", content: readFileSync(join(rootfs, "bin/busybox")), mode: 0o755 },
      { name: "bin/sh", type: "symlink", linkname: "busybox" },
      { name: "bin/stat", type: "symlink", linkname: "busybox" },
      { name: "owned", uid: 1234, gid: 5678, mode: 0o4750, content: "x" },
      { name: "again", type: "link", linkname: "owned" },
      { name: "null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "pipe", type: "fifo", mode: 0o600 },
    ]);
    const r = await runCli(["run", "--root", path, "sh", "-c", "stat -c '%n %u:%g %a %h %F %t:%T' /owned /again /null /pipe"], { env: env() });
    expect(r.stdout).toBe(
      "/owned 1234:5678 4750 2 regular file 0:0\n/again 1234:5678 4750 2 regular file 0:0\n/null 0:0 666 1 character special file 1:3\n/pipe 0:0 600 1 fifo 0:0\n",
    );
  });
});

describe.skipIf(!isRoot)("OCI image layouts", () => {
  const check = `ls /etc/doomed 2>&1 | grep -c 'No such'; ls /opq | tr '\\n' ' '; echo; pwd; echo "$IMAGE_VAR"`;

  test("a directory layout: layers in order, whiteout, opaque directory, config defaults", async () => {
    const r = await runCli(["run", "--root", oci, "sh", "-c", check], { env: env() });
    expect(r).toEqual({ code: 0, stdout: "1\nnew \n/work\nfrom-image\n", stderr: "" });
    expect(leftovers()).toEqual([]);
  });

  test("the same as a tar (docker save / podman save)", async () => {
    const r = await runCli(["run", "--root", ociTar, "sh", "-c", check], { env: env() });
    expect(r).toEqual({ code: 0, stdout: "1\nnew \n/work\nfrom-image\n", stderr: "" });
  });

  test("without a command, the image's Entrypoint and Cmd run", async () => {
    const r = await runCli(["run", "--root", oci], { env: env() });
    expect(r).toEqual({ code: 0, stdout: "cmd in /work with from-image\n", stderr: "" });
  });

  test("the command line overrides the defaults", async () => {
    const r = await runCli(["run", "--root", oci, "--cwd", "/tmp", "--env", "IMAGE_VAR=from-cli", "sh", "-c", 'echo "$(pwd) $IMAGE_VAR"'], { env: env() });
    expect(r.stdout).toBe("/tmp from-cli\n");
  });

  test("--image-ref picks an image when the index holds several", async () => {
    const dir = mkdtempSync(join(work, "multi-"));
    const multi = ociLayout(rootfs, dir, ["example.com/a:1", "example.com/b:2"]);
    const none = await runCli(["run", "--root", multi, "true"], { env: env() });
    expect(none).toEqual({ code: 125, stdout: "", stderr: "sandboxlib: the image index holds 2 images: example.com/a:1, example.com/b:2; pick one with --image-ref\n" });
    expect((await runCli(["run", "--root", multi, "--image-ref", "example.com/b:2", "true"], { env: env() })).code).toBe(0);
    expect((await runCli(["run", "--root", multi, "--image-ref", "nope", "true"], { env: env() })).stderr).toStartWith("sandboxlib: image ref not found: nope");
    expect(leftovers()).toEqual([]);
  });

  test("--keep-root unpacks to a directory and leaves it for reuse", async () => {
    const kept = join(work, "kept-root");
    expect((await runCli(["run", "--root", ociTar, "--keep-root", kept, "true"], { env: env() })).code).toBe(0);
    expect(readFileSync(join(kept, "opq/new"), "utf8")).toBe("upper\n");
    expect((await runCli(["run", "--root", kept, "cat", "/opq/new"])).stdout).toBe("upper\n");
    expect((await runCli(["run", "--root", ociTar, "--keep-root", kept, "true"], { env: env() })).stderr).toStartWith("sandboxlib: --keep-root directory exists and is not empty");
  });
});

describe.skipIf(!isRoot)("App Container images", () => {
  test("app.exec, workingDirectory, environment, AC_APP_NAME and the default PATH", async () => {
    const r = await runCli(["run", "--root", aci], { env: env() });
    expect(r).toEqual({
      code: 0,
      stdout: "aci example.com/aci-test in /app PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin FOO=bar\n",
      stderr: "",
    });
    expect(leftovers()).toEqual([]);
  });
});

describe.skipIf(!isRoot)("hostile tarballs write nothing outside and fail clearly", () => {
  const cases: [string, Parameters<typeof craftedTar>[1], string][] = [
    ["dotdot", [{ name: "bin/" , type: "directory" }, { name: "../escaped-dotdot" }], 'unsafe entry "../escaped-dotdot": \'..\' in path'],
    ["absolute", [{ name: `${"/tmp"}/escaped-absolute` }], 'unsafe entry "/tmp/escaped-absolute": absolute path'],
    ["symlink", [{ name: "link", type: "symlink", linkname: "/tmp" }, { name: "link/escaped-symlink" }], 'unsafe entry "link/escaped-symlink": link is a symlink (refusing to write through it)'],
    ["hardlink", [{ name: "hard", type: "link", linkname: "../../etc/passwd" }], "unsafe entry \"../../etc/passwd\": '..' in path"],
  ];
  for (const [name, entries, message] of cases) {
    test(name, async () => {
      const path = await craftedTar(join(work, `hostile-${name}.tar`), entries);
      const r = await runCli(["run", "--root", path, "true"], { env: env() });
      expect(r).toEqual({ code: 125, stdout: "", stderr: `sandboxlib: hostile-${name}.tar: ${message}\n` });
      for (const escaped of ["/tmp/escaped-absolute", "/tmp/escaped-symlink", join(work, "escaped-dotdot"), "/escaped-dotdot"]) expect(existsSync(escaped)).toBe(false);
      expect(statSync("/etc/passwd").nlink).toBe(1);
      expect(leftovers()).toEqual([]);
    });
  }

  test("not an archive at all", async () => {
    const path = join(work, "notes.txt");
    await Bun.write(path, "hello\n");
    expect((await runCli(["run", "--root", path, "true"])).stderr).toBe(`sandboxlib: filesystem root is not a directory, an image or a tarball: ${path}\n`);
  });
});

describe.skipIf(!isRoot)("progress", () => {
  test("a large image shows a progress bar on a terminal, nothing otherwise", async () => {
    const big = mkdtempSync(join(work, "big-"));
    rmSync(big, { recursive: true });
    Bun.spawnSync(["cp", "-a", rootfs, big]);
    await Bun.write(join(big, "filler"), crypto.getRandomValues(new Uint8Array(24 * 1024 * 1024)));
    const tarball = join(work, "big.tar");
    Bun.spawnSync(["tar", "-C", big, "-cf", tarball, "."]);
    const onTty = Bun.spawnSync(["script", "-qec", `${BIN} run --root ${tarball} true`, "/dev/null"], { env: { ...process.env, ...env() } });
    expect(onTty.stdout.toString()).toMatch(/unpacking big\.tar \[#+ *\] 100%/);
    const piped = await runCli(["run", "--root", tarball, "true"], { env: env() });
    expect(piped).toEqual({ code: 0, stdout: "", stderr: "" });
  });
});

describe.skipIf(!isRoot)("the temporary root is removed whatever happens", () => {
  test("after SIGTERM while unpacking", async () => {
    const big = join(work, "slow.tar.xz");
    // Incompressible and xz: unpacking takes long enough to be interrupted.
    const dir = mkdtempSync(join(work, "slow-"));
    await Bun.write(join(dir, "noise"), crypto.getRandomValues(new Uint8Array(48 * 1024 * 1024)));
    Bun.spawnSync(["sh", "-c", `tar -C ${dir} -cf - . | xz -0 -T2 > ${big}`]);
    const proc = Bun.spawn([BIN, "run", "--root", big, "true"], { env: { ...process.env, ...env() }, stdout: "ignore", stderr: "pipe" });
    for (let i = 0; i < 500 && leftovers().length === 0; i++) await Bun.sleep(10);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(143);
    expect(await new Response(proc.stderr).text()).toBe("sandboxlib: interrupted by signal 15 while preparing the root\n");
    expect(leftovers()).toEqual([]);
  });

  test("after the command fails", async () => {
    expect((await runCli(["run", "--root", tarballs.gzip!, "sh", "-c", "exit 3"], { env: env() })).code).toBe(3);
    expect(leftovers()).toEqual([]);
  });

  test("after a setup failure", async () => {
    expect((await runCli(["run", "--root", tarballs.gzip!, "--cwd", "/nonexistent", "true"], { env: env() })).code).toBe(125);
    expect(leftovers()).toEqual([]);
  });

  test("after SIGTERM to sandboxlib", async () => {
    const proc = Bun.spawn([BIN, "run", "--root", tarballs.zstd!, "sh", "-c", "touch /tmp/started; sleep 30"], { env: { ...process.env, ...env() }, stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 500 && !leftovers().some((d) => existsSync(join(scratchTmp, d, "archive/tmp/started"))); i++) await Bun.sleep(20);
    expect(leftovers().length).toBe(1);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(143);
    expect(leftovers()).toEqual([]);
  });
});
