// Real root filesystems for the end-to-end tests: a static busybox (Debian's
// busybox-static, installed by scripts/install-test-deps.sh) with its applets
// linked, plus the directories the Python suite expects.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const isRoot = process.geteuid?.() === 0;

/** Says why a root-only test cannot run, once per file. */
export function requireRootNote(file: string): void {
  if (!isRoot) console.warn(`${file}: these tests need root (run as root, as CI does); they are skipped, not passed`);
}

export function busyboxPath(): string {
  for (const p of ["/usr/bin/busybox", "/bin/busybox"]) if (existsSync(p)) return p;
  throw new Error("busybox not found: run scripts/install-test-deps.sh (installs Debian's busybox-static)");
}

/** A fresh busybox root filesystem in a temporary directory. */
export function makeRootfs(): string {
  const root = mkdtempSync(join(tmpdir(), "sandboxlib-rootfs-"));
  chmodSync(root, 0o755); // other users (--uid) must be able to enter it
  for (const d of ["bin", "tmp", "etc", "data/1", "proc", "dev", "sys"]) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, "tmp"), 0o1777);
  copyFileSync(busyboxPath(), join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  const applets = Bun.spawnSync([join(root, "bin/busybox"), "--list"]).stdout.toString().split("\n").filter(Boolean);
  for (const applet of applets) if (applet !== "busybox") symlinkSync("busybox", join(root, "bin", applet));
  writeFileSync(join(root, "data/1/canary"), "Please don't overwrite me.");
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  return root;
}

export function removeRootfs(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/** The host's mount table, as the kernel shows it to this process. */
export function hostMountinfo(): string {
  return readFileSync("/proc/self/mountinfo", "utf8");
}

/** Lines of the host mount table that mention `path`. */
export function mountsUnder(path: string): string[] {
  return hostMountinfo()
    .split("\n")
    .filter((l) => l.includes(path));
}
