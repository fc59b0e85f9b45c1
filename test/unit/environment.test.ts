// The pure parts of fitting a sandbox to its environment: the caller's
// capabilities, refused settings and their messages, telling an environment's
// refusal from a bad setting, container hints, advice, unpacking places.
import { describe, expect, test } from "bun:test";
import { SandboxError } from "../../src/base/errors.ts";
import type { SandboxOptions } from "../../src/config/options.ts";
import { adviceFor, type AdviceInput } from "../../src/check/advice.ts";
import { containerHints } from "../../src/check/container.ts";
import { type EnvironmentFacts, fitToEnvironment, linuxRefusalOf, markDegraded, markFallback } from "../../src/executors/environment.ts";
import { type CallerCapabilities, heldCapabilities, parseCapabilityStatus } from "../../src/hardening/caller-capabilities.ts";
import { DEFAULT_CAPABILITIES, resolveCapabilities } from "../../src/hardening/capabilities.ts";
import { scratchCandidates } from "../../src/images/prepare.ts";
import type { PlanInput } from "../../src/config/plan-input.ts";
import { planLinux } from "../../src/plan/linux-plan.ts";
import type { Step } from "../../src/plan/steps.ts";

const caps = (hex: string): CallerCapabilities => ({ effective: BigInt(`0x${hex}`), permitted: BigInt(`0x${hex}`), bounding: BigInt(`0x${hex}`) });
const DOCKER = caps("a80425fb");
const PODMAN = caps("800405fb");
const ALL = caps("1ffffffffff");
const docker: EnvironmentFacts = { caps: DOCKER, mountsRefused: "this process lacks CAP_SYS_ADMIN" };
const host: EnvironmentFacts = { caps: ALL, mountsRefused: null };
const unconfined: EnvironmentFacts = { caps: caps("a82425fb"), mountsRefused: null };

describe("the caller's capabilities", () => {
  test("read from /proc/PID/status; a missing line counts as every capability", () => {
    const parsed = parseCapabilityStatus("Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000800405fb\n");
    expect(parsed).toEqual({ effective: 0xa80425fbn, permitted: 0xa80425fbn, bounding: 0x800405fbn });
    expect(parseCapabilityStatus("").permitted).toBe((1n << 64n) - 1n);
  });

  test("the default set is cut to what the caller holds: Podman's set leaves out MKNOD, NET_RAW, AUDIT_WRITE, quietly", () => {
    const kept = heldCapabilities(DEFAULT_CAPABILITIES, [], PODMAN);
    expect(kept).toEqual(DEFAULT_CAPABILITIES.filter((c) => !["MKNOD", "NET_RAW", "AUDIT_WRITE"].includes(c)));
    expect(heldCapabilities(DEFAULT_CAPABILITIES, [], DOCKER)).toEqual([...DEFAULT_CAPABILITIES]);
  });

  test("a --cap-add the caller lacks is an error naming it; --degrade drops it with a warning", () => {
    expect(() => heldCapabilities([...DEFAULT_CAPABILITIES, "SYS_ADMIN"], ["sys_admin"], DOCKER)).toThrow(
      "--cap-add SYS_ADMIN: sandboxlib does not hold CAP_SYS_ADMIN here (its capability set is 00000000a80425fb, as a container gives), so the command cannot get it; give it to the container (docker run --cap-add SYS_ADMIN) or use --degrade to run without it",
    );
    const warnings: string[] = [];
    expect(heldCapabilities(["CHOWN", "NET_RAW"], ["CAP_NET_RAW"], PODMAN, (m) => warnings.push(m))).toEqual(["CHOWN"]);
    expect(warnings).toEqual(["--cap-add NET_RAW: sandboxlib does not hold CAP_NET_RAW here (its capability set is 00000000800405fb, as a container gives), so the command cannot get it: running without it"]);
  });
});

describe("fitToEnvironment", () => {
  test("where everything is allowed, nothing changes", () => {
    const options = { network: "isolated" as const, extraMounts: [[null, "/proc", "proc"]] as [null, string, string][] };
    expect(fitToEnvironment(options, "linux", host)).toEqual(options);
  });

  test("mounts where none can be made: refused naming the mount, the cause and the remedies", () => {
    expect(() => fitToEnvironment({ extraMounts: [[null, "/proc", "proc", "nosuid"]] }, "chroot", docker)).toThrow(
      "the proc mount on /proc cannot be honoured here, because no mounts can be made: this process lacks CAP_SYS_ADMIN; --degrade to run without it, or give the container the rights: docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined, or BuildKit's RUN --security=insecure",
    );
    expect(() => fitToEnvironment({ extraMounts: [["/src", "/src", "bind"]] }, "chroot", docker)).toThrow(/^the bind mount of \/src on \/src cannot be honoured here/);
  });

  test("--degrade drops each mount with a warning", () => {
    const warnings: string[] = [];
    const out = fitToEnvironment(markDegraded({ extraMounts: [[null, "/proc", "proc"], [null, "/tmp", "tmpfs"]] }, (m) => warnings.push(m)), "chroot", docker);
    expect(out.extraMounts).toEqual([]);
    expect(warnings).toEqual([
      "Unable to make the proc mount on /proc: no mounts can be made here, running without it",
      "Unable to make the tmpfs mount on /tmp: no mounts can be made here, running without it",
    ]);
  });

  test("a chroot fallback refuses what only namespaces give, saying why the linux backend cannot run", () => {
    const fallback = (o: SandboxOptions) => markFallback(o, { reason: "no CAP_SYS_ADMIN", proceeding: () => {} });
    for (const [options, setting] of [
      [{ network: "isolated" }, "--network isolated"],
      [{ mounts: "isolated" }, "--mounts isolated"],
      [{ filesystemWritablePaths: "none" }, "--read-only"],
      [{ filesystemWritablePaths: ["/src"] }, "--writable /src"],
      [{ hostname: "box" }, "--hostname box"],
    ] as const) {
      expect(() => fitToEnvironment(fallback(options), "chroot", docker)).toThrow(`${setting} cannot be honoured here, because the linux backend cannot run: no CAP_SYS_ADMIN; --degrade`);
    }
    const warnings: string[] = [];
    const out = fitToEnvironment(markDegraded(fallback({ network: "isolated", hostname: "box" }), (m) => warnings.push(m)), "chroot", docker);
    expect([out.network, out.hostname]).toEqual(["undefined", null]);
    expect(warnings).toEqual(["Unable to set network=isolated in a chroot sandbox, falling back to network=undefined", "Unable to set hostname=box in a chroot sandbox, keeping the host's"]);
  });

  test("the fallback is told to proceed only by the executor, after fitting", () => {
    let proceeded = false;
    fitToEnvironment(markFallback({}, { reason: "x", proceeding: () => (proceeded = true) }), "chroot", docker);
    expect(proceeded).toBe(false);
  });

  test("an isolated network without CAP_NET_ADMIN: refused; under --degrade kept isolated, with a warning", () => {
    expect(() => fitToEnvironment({ network: "isolated" }, "linux", unconfined)).toThrow(
      "--network isolated cannot be honoured here, because its loopback interface cannot be brought up without CAP_NET_ADMIN; --degrade to run with no network interface up at all, or give the container CAP_NET_ADMIN (docker run --cap-add NET_ADMIN)",
    );
    const warnings: string[] = [];
    expect(fitToEnvironment(markDegraded({ network: "isolated" }, (m) => warnings.push(m)), "linux", unconfined).network).toBe("isolated");
    expect(warnings.length).toBe(1);
  });

  test("the capabilities the caller lacks are left out of the command's, as further drops; the user's adds stay theirs", () => {
    const out = fitToEnvironment({ capDrop: ["NET_BIND_SERVICE"] } as SandboxOptions, "chroot", { caps: PODMAN, mountsRefused: "x" });
    expect(out.capDrop).toEqual(["NET_BIND_SERVICE", "NET_RAW", "AUDIT_WRITE"]);
    expect(out.capAdd).toEqual([]);
    expect(resolveCapabilities(out.capAdd ?? [], out.capDrop ?? [])).toEqual(DEFAULT_CAPABILITIES.filter((c) => !["NET_RAW", "AUDIT_WRITE", "NET_BIND_SERVICE"].includes(c)));
    expect(() => fitToEnvironment({ capAdd: ["NET_ADMIN"] }, "linux", unconfined)).toThrow(/^--cap-add NET_ADMIN: /);
  });
});

describe("linuxRefusalOf: an environment's refusal, not a bad setting", () => {
  const failed = (message: string, step: string, cause: { step: Step | null; errno: number }) => Object.assign(new SandboxError("setup", message, step), { cause });
  const bind: Step = { op: "mount", source: "/r", target: "/r", inRoot: false, sourceInRoot: false, fstype: null, flags: 0, data: null };
  const proc: Step = { op: "mount", source: "proc", target: "proc", inRoot: true, sourceInRoot: false, fstype: "proc", flags: 0, data: null };

  test("namespaces refused (clone EPERM), '/' private or the root bind refused (EPERM, EACCES), openat2 missing", () => {
    const clone = failed("cannot create the sandbox process: Operation not permitted", "clone", { step: null, errno: 1 });
    expect(linuxRefusalOf(clone, () => true)).toBe("the kernel refused to create namespaces, clone: Operation not permitted, as a container's seccomp profile or security module does");
    expect(linuxRefusalOf(clone, () => false)).toBe("this process lacks CAP_SYS_ADMIN, which namespaces and mounts need, as with a container's default capability set");
    expect(linuxRefusalOf(failed("cannot make / private: Permission denied", "make / private", { step: { op: "private-root" }, errno: 13 }), () => true)).toMatch(/^the kernel refused mounts, make \/ private: Permission denied/);
    expect(linuxRefusalOf(failed("cannot mount /r on /r: Operation not permitted", "mount /r on /r", { step: bind, errno: 1 }))).not.toBeNull();
    expect(linuxRefusalOf(failed("cannot open root /r: Function not implemented", "open root /r", { step: { op: "open-root", path: "/r" }, errno: 38 }))).not.toBeNull();
  });

  test("not: a user's mount that fails, a missing directory, another kind of error", () => {
    expect(linuxRefusalOf(failed("cannot mount proc on /proc: Operation not permitted", "mount proc on /proc", { step: proc, errno: 1 }))).toBeNull();
    expect(linuxRefusalOf(failed("cannot mount /r on /r: No such file or directory", "mount /r on /r", { step: bind, errno: 2 }))).toBeNull();
    expect(linuxRefusalOf(new SandboxError("config", "bad"))).toBeNull();
    expect(linuxRefusalOf(new Error("x"))).toBeNull();
  });
});

describe("container hints", () => {
  const none = { dockerenv: false, containerenv: null, initCgroup: "0::/init.scope\n", mountinfo: "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" };
  test("files, PID 1's cgroup, the mount table", () => {
    expect(containerHints(none)).toEqual({ kind: null, hints: [] });
    expect(containerHints({ ...none, dockerenv: true }).kind).toBe("docker");
    expect(containerHints({ ...none, containerenv: 'engine="buildah-1.28.2"\n' })).toEqual({ kind: "buildah", hints: ["/run/.containerenv (engine buildah-1.28.2)"] });
    expect(containerHints({ ...none, containerenv: "" }).kind).toBe("podman");
    expect(containerHints({ ...none, initCgroup: "0::/kubepods/besteffort/pod1/abc\n" }).kind).toBe("kubernetes");
    expect(containerHints({ ...none, initCgroup: "12:memory:/docker/0123abc\n" }).kind).toBe("docker");
    expect(containerHints({ ...none, mountinfo: "22 1 0:5 / / rw - overlay overlay rw\n" }).hints).toEqual(['"/" is an overlay mount']);
    expect(containerHints({ ...none, mountinfo: "30 25 0:5 / /proc rw - proc proc rw\n" })).toEqual({ kind: "chroot", hints: ['"/" is no mount point'] });
  });
});

describe("advice", () => {
  const base: AdviceInput = { container: { kind: "docker", hints: [] }, root: true, sysAdmin: true, netAdmin: true, namespacesRefused: false, mountsRefused: false, pivotRefused: false, cgroups: "writable", linuxRefusal: null };
  test("nothing to say where everything works", () => {
    expect(adviceFor(base)).toEqual([]);
  });
  test("Docker's defaults: CAP_SYS_ADMIN and seccomp, NET_ADMIN, cgroups", () => {
    const advice = adviceFor({ ...base, sysAdmin: false, netAdmin: false, cgroups: "read-only" });
    expect(advice[0]).toContain("docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined; in a Dockerfile: RUN --security=insecure");
    expect(advice[1]).toContain("docker run --cap-add NET_ADMIN");
    expect(advice[2]).toContain("read-only");
  });
  test("Podman's words for Podman; pivot_root refused", () => {
    expect(adviceFor({ ...base, container: { kind: "podman", hints: [] }, sysAdmin: false })[0]).toContain("podman run --cap-add SYS_ADMIN");
    expect(adviceFor({ ...base, pivotRefused: true })[0]).toMatch(/^pivot_root is refused .*CAP_SYS_CHROOT/);
  });
  test("not root: that first and alone", () => {
    expect(adviceFor({ ...base, root: false, sysAdmin: false })).toEqual(["run sandboxlib as root"]);
  });
});

describe("where images are unpacked", () => {
  test("SANDBOXLIB_TMPDIR, TMPDIR, /tmp, /var/tmp, beside the image; each once", () => {
    expect(scratchCandidates({ SANDBOXLIB_TMPDIR: "/big", TMPDIR: "/t" }, "/srv/img.tar").map((c) => c.dir)).toEqual(["/big", "/t", "/tmp", "/var/tmp", "/srv"]);
    expect(scratchCandidates({}, "/tmp/img.tar").map((c) => c.dir)).toEqual(["/tmp", "/var/tmp"]);
  });
});

describe("the linux plan in a container", () => {
  const input: PlanInput = {
    root: "/srv/root", rootReentry: "/srv/root", argv: ["true"], env: [], searchPath: null, cwd: "/", mounts: [], writable: "all",
    network: "isolated", hostname: null, stdio: [0, 1, 2],
    hardening: { newSession: true, passFds: [], rlimits: [], capabilities: ["CHOWN", "SYS_CHROOT"], uid: null, gid: null, seccomp: false, arch: "x64", processLimit: false },
    cgroupProcs: [],
  };

  test("pivot_root may fall back to MS_MOVE + chroot; the command's capabilities steps know where that step is", () => {
    const plan = planLinux(input);
    const pivot = plan.child.findIndex((s) => s.op === "pivot-root");
    expect(plan.child[pivot]).toMatchObject({ moveFallback: true });
    const steps = plan.child.filter((s) => s.op === "capabilities");
    expect(steps.length).toBe(2);
    for (const s of steps) expect(s).toMatchObject({ pivotStep: pivot });
  });

  test("without CAP_NET_ADMIN (under --degrade) the isolated network has no loopback step", () => {
    expect(planLinux(input).child.some((s) => s.op === "loopback-up")).toBe(true);
    expect(planLinux(input, { loopback: false }).child.some((s) => s.op === "loopback-up")).toBe(false);
  });

  test("the moved-root hook fires only when the pivot-root step says so", () => {
    let told = 0;
    const plan = planLinux(input, { loopback: true, onMovedRoot: () => told++ });
    const pivot = plan.child.findIndex((s) => s.op === "pivot-root");
    plan.spawned?.(plan.child.map(() => -1));
    expect(told).toBe(0);
    plan.spawned?.(plan.child.map((_, i) => (i === pivot ? 1 : -1)));
    expect(told).toBe(1);
  });
});
