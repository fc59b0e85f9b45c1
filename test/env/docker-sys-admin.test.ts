// `docker run --cap-add SYS_ADMIN`: Docker's seccomp profile then allows
// namespaces and mounts but still refuses pivot_root (it is in none of the
// profile's allow lists, checked against moby's profiles/seccomp): the linux
// backend keeps its namespaces and enters the root by MS_MOVE + chroot,
// without CAP_SYS_CHROOT for the command. With seccomp=unconfined too,
// pivot_root works; CAP_NET_ADMIN is still missing. And a seccomp filter
// refusing namespaces to a process holding every capability: only trying
// tells, and the chroot backend runs.
import { describe, expect, test } from "bun:test";
import { readlinkSync } from "node:fs";
import { environmentSuite } from "../helpers/env-suite.ts";
import { dockerSysAdmin, dockerUnconfined, runIn, seccompOnly } from "../helpers/environments.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("docker-sys-admin.test.ts");

const movedRoot = /^sandboxlib: warning: pivot_root is refused here .*the command runs without CAP_SYS_CHROOT.*$/m;

describe("docker --cap-add SYS_ADMIN (Docker's seccomp profile: pivot_root refused)", () => {
  environmentSuite(dockerSysAdmin, { backend: "linux", warning: movedRoot, mounts: true, isolatedNetwork: false, allCapabilities: false });

  test.skipIf(!isRoot)("the namespaces are kept, and the command has no CAP_SYS_CHROOT", async () => {
    const r = await runIn(dockerSysAdmin(), ["run", "--proc", "/proc", "--", "sh", "-c", "readlink /proc/self/ns/mnt; grep CapBnd /proc/self/status; echo $$"]);
    expect(r.code).toBe(0);
    const [mnt, bounding, pid] = r.stdout.trim().split("\n");
    expect(mnt).not.toBe(readlinkSync("/proc/self/ns/mnt"));
    expect(pid).toBe("3"); // the command is PID 3 of its own PID namespace, a child of the init (2 was its launcher)
    expect(BigInt(`0x${bounding!.split("\t")[1]}`) & (1n << 18n)).toBe(0n);
  });
});

describe("docker --cap-add SYS_ADMIN --security-opt seccomp=unconfined (no CAP_NET_ADMIN)", () => {
  environmentSuite(dockerUnconfined, { backend: "linux", warning: null, mounts: true, isolatedNetwork: false, allCapabilities: false });

  test.skipIf(!isRoot)("--degrade --network isolated: isolated, no interface up, one warning", async () => {
    const r = await runIn(dockerUnconfined(), ["run", "--degrade", "--network", "isolated", "--proc", "/proc", "--", "sh", "-c", "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean)).toEqual(["lo"]);
    expect(r.stderr).toBe("sandboxlib: warning: --network isolated: no loopback interface (this process lacks CAP_NET_ADMIN): the command has no network interface up\n");
  });
});

describe("a seccomp filter refusing namespaces, every capability held", () => {
  const fallback = /^sandboxlib: warning: the linux backend cannot run here: the kernel refused to create namespaces, clone: Operation not permitted, .*; using the chroot backend, .*$/m;
  environmentSuite(seccompOnly, { backend: "chroot", warning: fallback, mounts: false, isolatedNetwork: false, allCapabilities: true });
});
