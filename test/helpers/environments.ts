// The environments sandboxlib is used in, reproduced with real kernel
// mechanisms and no container engine: a mount namespace where the cgroup
// hierarchies are read-only (as in `docker build`), Docker's and Podman's
// capability sets (util-linux's setpriv), a seccomp filter that refuses what
// Docker's default profile refuses (test/fixtures/seccomp-container.c, built
// with libseccomp), a read-only /tmp, and a plain chroot whose "/" is no
// mount point. Each runs the real executable (dist/sandboxlib).
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BIN, requireBinary, type CliResult } from "./cli.ts";
import { busyboxPath } from "./rootfs.ts";

/** Docker's default capability set (CapBnd 00000000a80425fb). */
export const DOCKER_CAPS = ["chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap", "net_bind_service", "net_raw", "sys_chroot", "mknod", "audit_write", "setfcap"];
/** Podman's and Buildah's (800405fb): Docker's without MKNOD, NET_RAW and AUDIT_WRITE. */
export const PODMAN_CAPS = DOCKER_CAPS.filter((c) => !["mknod", "net_raw", "audit_write"].includes(c));

export interface Environment {
  name: string;
  /** Shell lines run first, as root, in the environment's own mount namespace. */
  setup: string[];
  /** Programs that wrap the executable (seccomp filter, then capabilities), outermost first. */
  wrappers: string[][];
  /** A directory the environment chroots into before running (a copy of the executable is at /sandboxlib there). */
  chrootDir: string | null;
  /** Variables removed from the environment. */
  unset: string[];
}

/** Remounts every cgroup hierarchy (and the directory holding them) read-only, as containers see them. */
export const CGROUPS_READ_ONLY = [
  "for m in $(awk '$5 ~ \"^/sys/fs/cgroup\" {print $5}' /proc/self/mountinfo | sort -r); do mount -o remount,bind,ro \"$m\" || exit 90; done",
];

/** /tmp bound onto itself and made read-only (no TMPDIR either: see `unset`). */
export const TMP_READ_ONLY = ["mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp || exit 91"];

const capsArgs = (caps: readonly string[]) => ["setpriv", `--bounding-set=-all,${caps.map((c) => `+${c}`).join(",")}`, "--inh-caps=-all", "--ambient-caps=-all", "--"];

let seccompTool: string | null = null;

/**
 * test/fixtures/seccomp-container.c, built beside the executable (dist/,
 * not committed) when missing or older than its source; needs
 * libseccomp-dev (scripts/install-test-deps.sh).
 */
export function seccompContainer(): string {
  if (seccompTool) return seccompTool;
  const source = join(import.meta.dir, "../fixtures/seccomp-container.c");
  const out = join(dirname(BIN), "seccomp-container");
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(source).mtimeMs) {
    const cc = Bun.spawnSync(["cc", "-O2", "-static", "-o", out, source, "-lseccomp"], { stderr: "pipe" });
    if (cc.exitCode !== 0) throw new Error(`cannot build seccomp-container (needs libseccomp-dev: scripts/install-test-deps.sh): ${cc.stderr}`);
  }
  return (seccompTool = out);
}

/** A default `docker build` step or `docker run`: Docker's capabilities and seccomp profile, read-only cgroups, PID 1 of its own PID namespace. */
export function dockerDefault(): Environment {
  return { name: "docker default", setup: CGROUPS_READ_ONLY, wrappers: [[seccompContainer(), "docker"], capsArgs(DOCKER_CAPS)], chrootDir: null, unset: [] };
}

/** `docker run --cap-add SYS_ADMIN` with Docker's seccomp profile: namespaces and mounts allowed, pivot_root refused. */
export function dockerSysAdmin(): Environment {
  return { name: "docker --cap-add SYS_ADMIN", setup: CGROUPS_READ_ONLY, wrappers: [[seccompContainer(), "docker-sys-admin"], capsArgs([...DOCKER_CAPS, "sys_admin"])], chrootDir: null, unset: [] };
}

/** `docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined`: everything but CAP_NET_ADMIN. */
export function dockerUnconfined(): Environment {
  return { name: "docker SYS_ADMIN unconfined", setup: CGROUPS_READ_ONLY, wrappers: [capsArgs([...DOCKER_CAPS, "sys_admin"])], chrootDir: null, unset: [] };
}

/** Podman / Buildah: their capability set and Docker's seccomp profile (Podman's refuses the same calls). */
export function podmanDefault(): Environment {
  return { name: "podman default", setup: CGROUPS_READ_ONLY, wrappers: [[seccompContainer(), "docker"], capsArgs(PODMAN_CAPS)], chrootDir: null, unset: [] };
}

/**
 * Every capability, but a seccomp filter refusing namespaces and mounts (as
 * systemd's RestrictNamespaces= or a custom container profile do): only a
 * real attempt tells that the linux backend cannot run.
 */
export function seccompOnly(): Environment {
  return { name: "seccomp refusing namespaces, all capabilities", setup: CGROUPS_READ_ONLY, wrappers: [[seccompContainer(), "docker"]], chrootDir: null, unset: [] };
}

/** Only the cgroups read-only: everything else as on the host. */
export function cgroupsReadOnly(): Environment {
  return { name: "read-only cgroups", setup: CGROUPS_READ_ONLY, wrappers: [], chrootDir: null, unset: [] };
}

/** A read-only /tmp and no TMPDIR. */
export function tmpReadOnly(): Environment {
  return { name: "read-only /tmp", setup: TMP_READ_ONLY, wrappers: [], chrootDir: null, unset: ["TMPDIR", "SANDBOXLIB_TMPDIR"] };
}

/** The shared libraries the executable loads, from ldd. */
function sharedLibraries(file: string): string[] {
  const out = Bun.spawnSync(["ldd", file], { stdout: "pipe" }).stdout.toString();
  return [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
}

/**
 * A plain chroot build host: a directory (no mount point) holding the
 * executable, its libraries, a static busybox and an empty /proc, mounted
 * when the environment starts. Remove it with removeChrootHost.
 */
export function makeChrootHost(): string {
  requireBinary();
  const dir = mkdtempSync(join(tmpdir(), "sandboxlib-chroothost-"));
  chmodSync(dir, 0o755);
  for (const d of ["bin", "proc", "tmp", "sys", "dev", "etc"]) mkdirSync(join(dir, d));
  chmodSync(join(dir, "tmp"), 0o1777);
  try {
    linkSync(BIN, join(dir, "sandboxlib"));
  } catch {
    copyFileSync(BIN, join(dir, "sandboxlib"));
    chmodSync(join(dir, "sandboxlib"), 0o755);
  }
  for (const lib of sharedLibraries(BIN)) {
    mkdirSync(join(dir, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(dir, lib));
  }
  copyFileSync(busyboxPath(), join(dir, "bin/busybox"));
  chmodSync(join(dir, "bin/busybox"), 0o755);
  // A build host's chroot has its /dev: here, the one node the runs need.
  Bun.spawnSync(["mknod", "-m", "666", join(dir, "dev/null"), "c", "1", "3"]);
  for (const applet of ["sh", "echo", "cat", "ls", "true", "mkdir", "grep", "id", "readlink"]) {
    Bun.spawnSync(["ln", "-s", "busybox", join(dir, "bin", applet)]);
  }
  return dir;
}

export function removeChrootHost(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The plain chroot host `dir` (see makeChrootHost): its "/" is not a mount point. */
export function chrootHost(dir: string): Environment {
  return { name: "plain chroot", setup: [`mount -t proc proc '${dir}/proc' || exit 92`], wrappers: [], chrootDir: dir, unset: [] };
}

/** Combines environments: setups, wrappers and unset variables of each, the chroot of the last that has one. */
export function combine(name: string, ...envs: Environment[]): Environment {
  return {
    name,
    setup: envs.flatMap((e) => e.setup),
    wrappers: envs.flatMap((e) => e.wrappers),
    chrootDir: envs.map((e) => e.chrootDir).findLast((d) => d !== null) ?? null,
    unset: envs.flatMap((e) => e.unset),
  };
}

export interface EnvRunOptions {
  stdin?: string;
  env?: Record<string, string>;
  /** `--status-fd 3` goes to the same pipe as stdout when true. */
  fd3ToStdout?: boolean;
}

/**
 * Runs `sandboxlib ARGS` inside `env`: a fresh mount and PID namespace
 * (unshare; gone with its last process, so nothing it mounts outlives the
 * test), the setup lines, the chroot, then the wrappers and the executable.
 */
export async function runIn(env: Environment, args: string[], options: EnvRunOptions = {}): Promise<CliResult> {
  requireBinary();
  const bin = env.chrootDir ? "/sandboxlib" : BIN;
  const chroot = env.chrootDir ? ["chroot", env.chrootDir] : [];
  const inner = [...env.wrappers.flat(), bin, ...args];
  const script = [...env.setup, `exec ${options.fd3ToStdout ? "3>&1 " : ""}"$@"`].join("\n");
  const argv = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc", "sh", "-c", script, "sh", ...chroot, ...inner];
  const vars: Record<string, string> = { ...(process.env as Record<string, string>) };
  for (const name of env.unset) delete vars[name];
  Object.assign(vars, options.env);
  const proc = Bun.spawn(argv, {
    stdin: options.stdin === undefined ? "ignore" : Buffer.from(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: vars,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code >= 90 && code <= 92) throw new Error(`environment ${env.name}: setup failed (${code}): ${stderr}`);
  return { code, stdout, stderr };
}

/** Where the test files may put files the sandboxes read (inside the chroot host, when there is one). */
export function hostPathIn(env: Environment, path: string): string {
  return env.chrootDir ? join(env.chrootDir, path) : path;
}

