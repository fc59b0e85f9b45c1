// `npm run test:docker`: the README's promise checked in a real `docker
// build` (Debian's docker.io), outside CI (it needs a Docker engine). No
// registry is needed: the base image is made with `docker import` from a
// root filesystem built here (a static busybox, the executable's shared
// libraries). Exit 0 when every step did what the README says.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const BIN = join(import.meta.dir, "../dist/sandboxlib");
const IMAGE = "sandboxlib-test-base:latest";

function sh(argv: string[], input?: string): { code: number; out: string } {
  const r = Bun.spawnSync(argv, { stdin: input === undefined ? "ignore" : Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

if (sh(["docker", "version"]).code !== 0) {
  console.error("test:docker: no Docker engine here (docker version failed); install docker.io and start it");
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), "sandboxlib-docker-"));
let failures = 0;
try {
  const root = join(work, "rootfs");
  for (const d of ["bin", "etc", "tmp", "proc", "dev", "sys", "usr/local/bin"]) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, "tmp"), 0o1777);
  const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((p) => Bun.file(p).size > 0);
  if (!busybox) throw new Error("busybox not found (scripts/install-test-deps.sh installs busybox-static)");
  copyFileSync(busybox, join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  for (const applet of sh([busybox, "--list"]).out.split("\n").filter((a) => a && a !== "busybox")) symlinkSync("busybox", join(root, "bin", applet));
  for (const lib of [...sh(["ldd", BIN]).out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!)) {
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(root, lib));
  }
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\n");
  const tar = join(work, "rootfs.tar");
  if (sh(["tar", "-C", root, "-cf", tar, "."]).code !== 0) throw new Error("cannot pack the base root filesystem");
  const imported = sh(["docker", "import", tar, IMAGE]);
  if (imported.code !== 0) throw new Error(`docker import: ${imported.out}`);
  const ctx = join(work, "context");
  mkdirSync(ctx);
  copyFileSync(BIN, join(ctx, "sandboxlib"));
  const build = (name: string, dockerfile: string, expect: { code: number; output: RegExp[] }) => {
    writeFileSync(join(ctx, "Dockerfile"), dockerfile);
    const r = sh(["docker", "build", "--no-cache", "--progress=plain", ctx]);
    const missing = expect.output.filter((re) => !re.test(r.out));
    const ok = (expect.code === 0 ? r.code === 0 : r.code !== 0) && missing.length === 0;
    console.log(`${ok ? "ok  " : "FAIL"} ${name}`);
    if (!ok) {
      failures++;
      console.log(r.out.split("\n").slice(-40).join("\n"));
      for (const re of missing) console.log(`  missing: ${re}`);
    }
  };
  const from = `FROM ${IMAGE}\nCOPY sandboxlib /usr/local/bin/sandboxlib\n`;
  build("default run: the chroot backend, one warning", `${from}RUN sandboxlib run -- sh -c 'echo "built in a sandbox as $(id -u)"'\n`, {
    code: 0,
    output: [/built in a sandbox as 0/, /warning: the linux backend cannot run here: this process lacks CAP_SYS_ADMIN/],
  });
  build("--degrade drops what cannot be honoured", `${from}RUN sandboxlib run --degrade --network isolated --read-only --proc /proc -- echo degraded\n`, {
    code: 0,
    output: [/degraded/, /Unable to set network=isolated/],
  });
  build("--network isolated alone is refused: 125 and why", `${from}RUN sandboxlib run --network isolated -- true\n`, {
    code: 1,
    output: [/--network isolated cannot be honoured here, because the linux backend cannot run/, /exit code: 125/],
  });
  build("check agrees with run", `${from}RUN sandboxlib check && sandboxlib check --json | grep -q '"default_backend":"chroot"'\n`, {
    code: 0,
    output: [/default run -- true +works, with the chroot backend/],
  });
  build("a tarball root unpacks", `${from}RUN mkdir /r && cp -a /bin /etc /r/ && tar -C /r -cf /r.tar . && sandboxlib run --root /r.tar -- echo from-tarball\n`, {
    code: 0,
    output: [/from-tarball/],
  });
} finally {
  sh(["docker", "image", "rm", "-f", IMAGE]);
  rmSync(work, { recursive: true, force: true });
}
console.log(`${failures === 0 ? 5 : 5 - failures} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
