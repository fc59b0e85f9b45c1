// Whether sandboxlib runs in a container, and which kind, where it can
// tell: the files container engines leave (/.dockerenv, /run/.containerenv),
// the cgroup paths of PID 1, and the mount table (an overlay root, a "/"
// that is no mount point, as in a plain chroot). Hints, not proof: each
// says where it comes from.

export interface ContainerHints {
  /** "docker", "podman", "kubernetes", "lxc", "chroot", or null when nothing says so. */
  kind: string | null;
  /** What was seen, one phrase each. */
  hints: string[];
}

export interface ContainerEvidence {
  dockerenv: boolean;
  /** The text of /run/.containerenv, or null when it does not exist. */
  containerenv: string | null;
  /** /proc/1/cgroup, or null when unreadable. */
  initCgroup: string | null;
  /** /proc/self/mountinfo, or null when unreadable. */
  mountinfo: string | null;
}

/** The mount table line whose mount point is "/" (the last one: the one on top). */
function rootMount(mountinfo: string): { fstype: string; source: string } | null {
  let found: { fstype: string; source: string } | null = null;
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    if (fields[4] !== "/") continue;
    const dash = fields.indexOf("-");
    if (dash > 0) found = { fstype: fields[dash + 1] ?? "", source: fields[dash + 2] ?? "" };
  }
  return found;
}

/** Pure: what the evidence says. */
export function containerHints(e: ContainerEvidence): ContainerHints {
  const hints: string[] = [];
  let kind: string | null = null;
  const claim = (k: string, hint: string) => {
    kind ??= k;
    hints.push(hint);
  };
  if (e.containerenv !== null) {
    const engine = /^engine="?([^"\n]+)"?$/m.exec(e.containerenv)?.[1];
    claim(engine?.startsWith("buildah") ? "buildah" : "podman", `/run/.containerenv${engine ? ` (engine ${engine})` : ""}`);
  }
  if (e.dockerenv) claim("docker", "/.dockerenv");
  const cg = e.initCgroup ?? "";
  if (/kubepods/.test(cg)) claim("kubernetes", "PID 1's cgroup is under kubepods");
  else if (/\/(docker|buildkit)[/-]/.test(cg)) claim("docker", "PID 1's cgroup names docker");
  else if (/libpod|machine\.slice\/libpod/.test(cg)) claim("podman", "PID 1's cgroup names libpod");
  else if (/\/lxc[/.]/.test(cg)) claim("lxc", "PID 1's cgroup names lxc");
  if (e.mountinfo !== null) {
    const root = rootMount(e.mountinfo);
    if (root === null) claim("chroot", '"/" is no mount point');
    else if (root.fstype === "overlay" || root.fstype === "fuse-overlayfs") hints.push(`"/" is an ${root.fstype} mount`);
  }
  return { kind, hints };
}
