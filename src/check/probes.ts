// What this host supports, probed for real: each namespace kind is created,
// pivot_root, openat2 and mount_setattr are used in a throwaway mount
// namespace, the default seccomp filter is loaded, cgroups are listed.
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { rootReentry } from "../config/resolve.ts";
import { EXECUTORS } from "../executors/registry.ts";
import { currentArch, seccompFilter } from "../hardening/seccomp.ts";
import { CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS } from "../native/clone-flags.ts";
import { helperOrigin } from "../native/helper.ts";
import { geteuid, glibcVersion, strerror } from "../native/libc.ts";
import { spawnSteps, tryWait } from "../native/spawn.ts";
import { privateRootSteps } from "../plan/linux-plan.ts";
import { MOUNT_ATTR_RDONLY } from "../plan/mounts.ts";
import { describeStep, type Step } from "../plan/steps.ts";
import { CGROUP_ROOT } from "../supervise/cgroups.ts";

export interface Probe {
  name: string;
  ok: boolean;
  /** What was found, or why not. */
  detail: string;
}

const CLONE_NEWUSER = 0x10000000;

/** Probes that did not exit in time: what they use must stay allocated. */
const stillRunning: unknown[] = [];

/** Runs `steps` in a child with `flags`; null when it worked, else why not. */
async function trySteps(steps: Step[], flags: number): Promise<string | null> {
  let sandbox;
  try {
    sandbox = spawnSteps([...steps, { op: "exit", status: 0 }], flags);
  } catch (e) {
    return `clone: ${strerror((e as { errno?: number }).errno ?? 0)}`;
  }
  let status = null;
  for (let i = 0; i < 500 && !(status = tryWait(sandbox.pid)); i++) await Bun.sleep(2);
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

function cgroupProbe(): Probe[] {
  const v2 = existsSync(`${CGROUP_ROOT}/cgroup.controllers`) ? readFileSync(`${CGROUP_ROOT}/cgroup.controllers`, "utf8").trim() : null;
  if (v2 !== null) return [{ name: "cgroup v2", ok: true, detail: `controllers: ${v2 || "none"}` }];
  const v1 = ["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices", "freezer"].filter((c) => existsSync(`${CGROUP_ROOT}/${c}/cgroup.procs`));
  return [
    { name: "cgroup v2", ok: false, detail: `not mounted at ${CGROUP_ROOT} (hybrid or v1 host)` },
    { name: "cgroup v1", ok: v1.length > 0, detail: v1.length ? `controllers: ${v1.join(", ")}` : "none mounted" },
  ];
}

export async function probeHost(): Promise<{ probes: Probe[]; defaultBackend: string | null }> {
  const uid = geteuid();
  const probes: Probe[] = [
    { name: "root", ok: uid === 0, detail: uid === 0 ? "yes" : `no (effective uid ${uid})` },
    { name: "kernel", ok: true, detail: release() },
    { name: "glibc", ok: true, detail: glibcVersion() },
    { name: "native helper", ok: true, detail: helperOrigin() === "precompiled" ? "precompiled (embedded)" : "compiled at start by TinyCC" },
  ];
  const kinds: [string, number][] = [
    ["mount namespace", CLONE_NEWNS], ["PID namespace", CLONE_NEWPID], ["IPC namespace", CLONE_NEWIPC],
    ["UTS namespace", CLONE_NEWUTS], ["network namespace", CLONE_NEWNET], ["cgroup namespace", CLONE_NEWCGROUP],
    ["user namespace", CLONE_NEWUSER],
  ];
  for (const [name, flag] of kinds) probes.push(probe(name, await trySteps([], flag)));
  const privateRoot = privateRootSteps("/");
  const root = reentry();
  probes.push(probe("openat2 + mount_setattr", await trySteps([...privateRoot, { op: "open-root", path: root }, { op: "setattr", path: "", set: MOUNT_ATTR_RDONLY, clear: 0, recursive: true }], CLONE_NEWNS)));
  probes.push(probe("pivot_root", await trySteps([...privateRoot, { op: "pivot-root", path: root }], CLONE_NEWNS | CLONE_NEWPID)));
  const filter = seccompFilter({ arch: currentArch(), allowMounts: false, ownPidNamespace: true });
  probes.push(probe("seccomp", await trySteps([{ op: "no-new-privs" }, { op: "seccomp", filter }], 0), "default filter loads"));
  probes.push(...cgroupProbe());
  const overlay = readFileSync("/proc/filesystems", "utf8").includes("\toverlay\n");
  probes.push({ name: "overlayfs", ok: overlay, detail: overlay ? "yes" : "not in /proc/filesystems" });
  for (const e of EXECUTORS) {
    const reason = e.unavailableReason();
    probes.push({ name: `backend ${e.name}`, ok: reason === null, detail: reason ?? "can run here" });
  }
  const linuxNeeds = ["root", "mount namespace", "PID namespace", "IPC namespace", "UTS namespace", "openat2 + mount_setattr", "pivot_root", "seccomp"];
  const linuxOk = linuxNeeds.every((n) => probes.find((p) => p.name === n)?.ok);
  const chrootOk = probes.find((p) => p.name === "backend chroot")?.ok ?? false;
  return { probes, defaultBackend: linuxOk ? "linux" : chrootOk ? "chroot" : null };
}
