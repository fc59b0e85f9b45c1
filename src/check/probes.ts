// What this host supports, probed for real: each namespace kind is created,
// "/" made private, pivot_root, openat2 and mount_setattr are used in a
// throwaway mount namespace, the loopback interface brought up in a
// throwaway network namespace, the default seccomp filter loaded, cgroups
// and temporary directories tried for writing. Then a default `run -- true`
// is made, with the backend `run` would choose: `check` succeeds exactly
// when it works.
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { arch, release } from "node:os";
import { rootReentry } from "../config/resolve.ts";
import { defaultExecutor, quietFallback } from "../executors/auto.ts";
import { knownLinuxRefusal } from "../executors/environment.ts";
import { quietMovedRoot } from "../executors/linux.ts";
import { EXECUTORS } from "../executors/registry.ts";
import { callerCapabilities, canUse, hexSet, holdsIn } from "../hardening/caller-capabilities.ts";
import { CAPABILITY_NUMBERS, DEFAULT_CAPABILITIES } from "../hardening/capabilities.ts";
import { currentArch, seccompFilter } from "../hardening/seccomp.ts";
import { scratchCandidates } from "../images/prepare.ts";
import { CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS } from "../base/kernel-constants.ts";
import { helperOrigin } from "../native/helper.ts";
import { geteuid, glibcVersion, strerror } from "../native/libc.ts";
import { spawnSteps, tryWait } from "../native/spawn.ts";
import { privateRootSteps } from "../plan/linux-plan.ts";
import { MOUNT_ATTR_RDONLY } from "../plan/mounts.ts";
import { describeStep, type Step } from "../plan/steps.ts";
import { CGROUP_ROOT } from "../supervise/cgroups.ts";
import { type ContainerHints, containerHints } from "./container.ts";
import { adviceFor } from "./advice.ts";

export interface Probe {
  name: string;
  ok: boolean;
  /** What was found, or why not. */
  detail: string;
}

export interface HostReport {
  probes: Probe[];
  /** The backend a default `run` uses here, when it works. */
  defaultBackend: string | null;
  container: ContainerHints;
  /** What to change for the linux backend (and its settings), one line each. */
  advice: string[];
}

const CLONE_NEWUSER = 0x10000000;

/** Probes that did not exit in time: what they use must stay allocated. */
const stillRunning: unknown[] = [];

/** Runs `steps` in a child with `flags`: null when it worked, else why not; `outs` gets the steps' out values. */
async function trySteps(steps: Step[], flags: number, outs: number[] = []): Promise<string | null> {
  let sandbox;
  try {
    sandbox = spawnSteps([...steps, { op: "exit", status: 0 }], flags);
  } catch (e) {
    return `clone: ${strerror((e as { errno?: number }).errno ?? 0)}`;
  }
  let status = null;
  for (let i = 0; i < 500 && !(status = tryWait(sandbox.pid)); i++) await Bun.sleep(2);
  outs.push(...sandbox.outs());
  // A probe's memory goes back only once its process is gone (its stack is
  // reused, and the kernel writes into its record when it exits); one still
  // running keeps them, for good.
  if (status) sandbox.release();
  else stillRunning.push(sandbox);
  if (sandbox.failure) {
    const step = steps[sandbox.failure.index];
    return `${step ? describeStep(step) : "setup"}: ${strerror(sandbox.failure.errno)}`;
  }
  return status && status.status === 0 ? null : "the probe did not exit cleanly";
}

const probe = (name: string, error: string | null, okDetail = "yes"): Probe => ({ name, ok: error === null, detail: error ?? okDetail });

/** How the planner re-enters "/"; a root without a directory makes the probes fail, not check. */
function reentry(): string {
  try {
    return rootReentry("/");
  } catch {
    return "/";
  }
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function writable(path: string): string | null {
  try {
    accessSync(path, constants.W_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? "does not exist" : code === "EROFS" ? "read-only file system" : code === "EACCES" ? "not writable (permission denied)" : String(code);
  }
}

function cgroupProbes(): Probe[] {
  const v2 = readOrNull(`${CGROUP_ROOT}/cgroup.controllers`);
  if (v2 !== null) {
    const ro = writable(CGROUP_ROOT);
    return [
      { name: "cgroup v2", ok: true, detail: `controllers: ${v2.trim() || "none"}` },
      { name: "cgroups writable", ok: ro === null, detail: ro === null ? `yes (${CGROUP_ROOT})` : `no: ${CGROUP_ROOT}: ${ro} (--memory, --pids, --cpus cannot be honoured; peak memory from rusage)` },
    ];
  }
  const v1 = ["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices", "freezer"].filter((c) => existsSync(`${CGROUP_ROOT}/${c}/cgroup.procs`));
  const ro = v1.map((c) => [c, writable(`${CGROUP_ROOT}/${c}`)] as const).filter(([, why]) => why !== null);
  return [
    { name: "cgroup v2", ok: false, detail: `not mounted at ${CGROUP_ROOT} (hybrid or v1 host)` },
    { name: "cgroup v1", ok: v1.length > 0, detail: v1.length ? `controllers: ${v1.join(", ")}` : "none mounted" },
    {
      name: "cgroups writable",
      ok: v1.length > 0 && ro.length === 0,
      detail: v1.length === 0 ? "no cgroups" : ro.length === 0 ? "yes" : `no: ${ro.map(([c, why]) => `${c}: ${why}`).join(", ")} (--memory, --pids, --cpus cannot be honoured; peak memory from rusage)`,
    },
  ];
}

function tmpProbes(): Probe[] {
  const tmp = writable("/tmp");
  const candidates = scratchCandidates(process.env, process.cwd() + "/image").slice(0, -1);
  const usable = candidates.find((c) => writable(c.dir) === null);
  return [
    { name: "/tmp writable", ok: tmp === null, detail: tmp === null ? "yes" : `no: ${tmp}` },
    {
      name: "unpacking images",
      ok: usable !== undefined,
      detail: usable ? `under ${usable.dir}${usable.from.includes("TMPDIR") ? ` (${usable.from})` : ""}` : `no writable directory among ${candidates.map((c) => c.dir).join(", ")}: beside the image, or set SANDBOXLIB_TMPDIR`,
    },
  ];
}

const names = (mask: bigint) => Object.keys(CAPABILITY_NUMBERS).filter((n) => (mask >> BigInt(CAPABILITY_NUMBERS[n]!)) & 1n);

function capabilityProbes(): Probe[] {
  const caps = callerCapabilities();
  const status = readOrNull("/proc/self/status") ?? "";
  const filters = /^Seccomp:\s*(\d)/m.exec(status)?.[1];
  const count = /^Seccomp_filters:\s*(\d+)/m.exec(status)?.[1];
  const missing = DEFAULT_CAPABILITIES.filter((c) => !holdsIn(caps, c));
  const command = DEFAULT_CAPABILITIES.filter((c) => holdsIn(caps, c));
  return [
    { name: "capabilities held", ok: true, detail: `${hexSet(caps.permitted & caps.bounding)}${missing.length ? `: lacks ${missing.join(", ")} of the default set` : ""}` },
    { name: "command's capabilities", ok: command.length > 0, detail: command.join(" ") || "none" },
    { name: "CAP_SYS_ADMIN", ok: canUse("SYS_ADMIN", caps), detail: canUse("SYS_ADMIN", caps) ? "yes (namespaces, mounts)" : "no: no namespaces, no mounts" },
    { name: "CAP_NET_ADMIN", ok: canUse("NET_ADMIN", caps), detail: canUse("NET_ADMIN", caps) ? "yes (loopback of --network isolated)" : "no: --network isolated needs --degrade (no loopback)" },
    {
      name: "seccomp filter on sandboxlib",
      ok: filters !== "2",
      detail: filters === "2" ? `yes, ${count ?? "some"} (a container's profile?): calls it refuses are found by trying` : filters === undefined ? "unknown" : "none",
    },
  ];
}

/** A default `run -- true` with the backend `run` would choose; its backend, or why it failed. */
async function defaultRun(): Promise<{ backend: string | null; detail: string }> {
  const executor = defaultExecutor(EXECUTORS[0]!, EXECUTORS[1]!);
  quietFallback();
  quietMovedRoot();
  try {
    const result = await executor.runSandbox(["true"], { stdout: null, stderr: null, stdin: null });
    if (result.exitCode !== 0) return { backend: null, detail: `exit status ${result.exitCode}` };
    return { backend: executor.name, detail: `works, with the ${executor.name} backend` };
  } catch (e) {
    return { backend: null, detail: (e as Error).message };
  }
}

export async function probeHost(): Promise<HostReport> {
  const uid = geteuid();
  const probes: Probe[] = [
    { name: "root", ok: uid === 0, detail: uid === 0 ? "yes" : `no (effective uid ${uid})` },
    { name: "kernel", ok: true, detail: `${release()} (needs 5.6 for openat2, 5.12 for mount_setattr)` },
    { name: "architecture", ok: arch() === "x64" || arch() === "arm64", detail: arch() === "x64" ? "x86_64" : arch() === "arm64" ? "aarch64" : `${arch()} (unsupported)` },
    { name: "glibc", ok: true, detail: glibcVersion() },
    { name: "native helper", ok: true, detail: helperOrigin() },
  ];
  const container = containerHints({
    dockerenv: existsSync("/.dockerenv"),
    containerenv: readOrNull("/run/.containerenv"),
    initCgroup: readOrNull("/proc/1/cgroup"),
    mountinfo: readOrNull("/proc/self/mountinfo"),
  });
  probes.push({ name: "container", ok: true, detail: container.kind ? `${container.kind} (${container.hints.join("; ")})` : container.hints.length ? `none seen (${container.hints.join("; ")})` : "none seen" });
  probes.push(...capabilityProbes());
  const kinds: [string, number][] = [
    ["mount namespace", CLONE_NEWNS], ["PID namespace", CLONE_NEWPID], ["IPC namespace", CLONE_NEWIPC],
    ["UTS namespace", CLONE_NEWUTS], ["network namespace", CLONE_NEWNET], ["cgroup namespace", CLONE_NEWCGROUP],
    ["user namespace", CLONE_NEWUSER],
  ];
  for (const [name, flag] of kinds) probes.push(probe(name, await trySteps([], flag)));
  const privateRoot = privateRootSteps("/");
  const root = reentry();
  probes.push(probe("mounts", await trySteps(privateRoot, CLONE_NEWNS), '"/" made private and bound in a mount namespace'));
  probes.push(probe("openat2 + mount_setattr", await trySteps([...privateRoot, { op: "open-root", path: root }, { op: "setattr", path: "", set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true }], CLONE_NEWNS)));
  const pivot = await trySteps([...privateRoot, { op: "pivot-root", path: root }], CLONE_NEWNS | CLONE_NEWPID);
  probes.push(probe("pivot_root", pivot));
  if (pivot !== null) {
    const outs: number[] = [];
    const moved = await trySteps([...privateRoot, { op: "pivot-root", path: root, moveFallback: true }], CLONE_NEWNS | CLONE_NEWPID, outs);
    const used = moved === null && outs[privateRoot.length] === 1;
    probes.push({ name: "root entry", ok: moved === null, detail: moved ?? (used ? "MS_MOVE onto / and chroot (pivot_root refused): the command runs without CAP_SYS_CHROOT" : "pivot_root") });
  }
  probes.push(probe("loopback", canUse("NET_ADMIN") ? await trySteps([{ op: "loopback-up" }], CLONE_NEWNET) : "no CAP_NET_ADMIN"));
  const filter = seccompFilter({ arch: currentArch(), allowMounts: false, ownPidNamespace: true });
  probes.push(probe("seccomp", await trySteps([{ op: "no-new-privs" }, { op: "seccomp", filter }], 0), "default filter loads"));
  probes.push(...cgroupProbes());
  probes.push(...tmpProbes());
  const overlay = (readOrNull("/proc/filesystems") ?? "").includes("\toverlay\n");
  probes.push({ name: "overlayfs", ok: overlay, detail: overlay ? "yes" : "not in /proc/filesystems" });
  const ok = (name: string) => probes.find((p) => p.name === name)?.ok ?? false;
  const linuxNeeds = ["root", "mount namespace", "PID namespace", "IPC namespace", "UTS namespace", "mounts", "openat2 + mount_setattr", "seccomp"];
  const linuxMissing = linuxNeeds.filter((n) => !ok(n));
  const rootEntry = ok("pivot_root") || ok("root entry");
  const linuxReason = EXECUTORS[0]!.unavailableReason() ?? (linuxMissing.length ? `no ${linuxMissing.join(", ")}` : rootEntry ? null : "no way into the root (pivot_root and MS_MOVE refused)");
  probes.push({ name: "backend linux", ok: linuxReason === null, detail: linuxReason ?? (ok("pivot_root") ? "can run here" : "can run here, entering the root by MS_MOVE + chroot") });
  const chrootReason = EXECUTORS[1]!.unavailableReason();
  probes.push({ name: "backend chroot", ok: chrootReason === null, detail: chrootReason ?? "can run here" });
  const run = await defaultRun();
  probes.push({ name: "default run -- true", ok: run.backend !== null, detail: run.detail });
  const advice = adviceFor({
    container,
    root: uid === 0,
    sysAdmin: canUse("SYS_ADMIN"),
    netAdmin: canUse("NET_ADMIN"),
    namespacesRefused: !ok("mount namespace") && canUse("SYS_ADMIN"),
    mountsRefused: ok("mount namespace") && !ok("mounts"),
    pivotRefused: !ok("pivot_root") && ok("root entry"),
    cgroups: ok("cgroups writable") ? "writable" : ok("cgroup v1") || ok("cgroup v2") ? "read-only" : "none",
    linuxRefusal: knownLinuxRefusal(),
  });
  return { probes, defaultBackend: run.backend, container, advice };
}
