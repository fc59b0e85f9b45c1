// A default `docker build` step or `docker run`, and Podman's / Buildah's:
// their capability sets, Docker's seccomp profile (namespaces and mounts
// refused), read-only cgroups. The chroot backend runs, with one warning.
import { describe, test } from "bun:test";
import { expectLinuxRefused, environmentSuite } from "../helpers/env-suite.ts";
import { dockerDefault, podmanDefault } from "../helpers/environments.ts";
import { isRoot, requireRootNote } from "../helpers/rootfs.ts";

requireRootNote("docker.test.ts");

const fallback = /^sandboxlib: warning: the linux backend cannot run here: this process lacks CAP_SYS_ADMIN, .*; using the chroot backend, without namespaces .*; for namespaces: docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined, or BuildKit's RUN --security=insecure$/m;
const expected = { backend: "chroot", warning: fallback, mounts: false, isolatedNetwork: false, allCapabilities: false } as const;

describe("docker default (capabilities a80425fb, Docker's seccomp profile, read-only cgroups)", () => {
  environmentSuite(dockerDefault, expected);
  test.skipIf(!isRoot)("--backend linux: 125, why, and what to do", () => expectLinuxRefused(dockerDefault()));
});

describe("podman / buildah default (capabilities 800405fb: no MKNOD, NET_RAW, AUDIT_WRITE)", () => {
  environmentSuite(podmanDefault, expected);
});
