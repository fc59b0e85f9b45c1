// What to change to get the linux backend, and the settings it cannot
// honour here, from what the probes found. Pure: one line per remedy.
import type { ContainerHints } from "./container.ts";

export interface AdviceInput {
  container: ContainerHints;
  root: boolean;
  sysAdmin: boolean;
  netAdmin: boolean;
  /** Namespaces refused although CAP_SYS_ADMIN is held: a seccomp profile or security module. */
  namespacesRefused: boolean;
  /** Namespaces created, but making "/" private or binding refused. */
  mountsRefused: boolean;
  /** pivot_root refused, the root entered by MS_MOVE + chroot. */
  pivotRefused: boolean;
  cgroups: "writable" | "read-only" | "none";
  /** Why the linux backend cannot run here, as `run` knows it. */
  linuxRefusal: string | null;
}

export function adviceFor(a: AdviceInput): string[] {
  if (!a.root) return ["run sandboxlib as root"];
  const out: string[] = [];
  const engine = a.container.kind === "podman" || a.container.kind === "buildah" ? a.container.kind : "docker";
  const build = engine === "docker" ? "; in a Dockerfile: RUN --security=insecure (BuildKit, with docker buildx build --allow security.insecure)" : "";
  if (!a.sysAdmin) out.push(`for the linux backend (namespaces, mounts): give the container CAP_SYS_ADMIN and an unconfined seccomp profile: ${engine} run --cap-add SYS_ADMIN --security-opt seccomp=unconfined${build}`);
  else if (a.namespacesRefused || a.mountsRefused) out.push(`for the linux backend: a seccomp profile or security module refuses ${a.namespacesRefused ? "namespaces" : "mounts"}: ${engine} run --security-opt seccomp=unconfined${a.mountsRefused ? " --security-opt apparmor=unconfined" : ""}${build}`);
  if (a.pivotRefused) out.push(`pivot_root is refused (${engine}'s seccomp profile refuses it even with CAP_SYS_ADMIN): the root is entered by MS_MOVE + chroot and the command loses CAP_SYS_CHROOT; ${engine} run --security-opt seccomp=unconfined allows pivot_root`);
  if (!a.netAdmin) out.push(`--network isolated needs CAP_NET_ADMIN for its loopback interface (${engine} run --cap-add NET_ADMIN), or --degrade to run with no interface up`);
  if (a.cgroups !== "writable") out.push(`--memory, --pids and --cpus need writable cgroups (${a.cgroups === "none" ? "none are mounted" : "they are read-only here, as in a container"})`);
  return out;
}
