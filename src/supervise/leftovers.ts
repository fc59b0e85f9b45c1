// What sandboxlib kills itself when the chroot backend's init could not
// sweep: that init lives in the host's PID namespace, where root in the
// sandbox (it keeps CAP_KILL) can kill it before the command exits. What the
// command started is then out of the init's reach, and sandboxlib kills what
// it can still name: the processes of the command's session, and those of
// the sandbox's mount namespace (every process of a sandbox with mounts is
// in it: leaving it takes CAP_SYS_ADMIN). A process that left the session of
// a sandbox without mounts stays out of reach, unless a cgroup holds it (the
// caller kills that).
import { type Host, realHost } from "./host.ts";

const SIGKILL = 9;

/** What marks a process as the sandbox's. */
export interface SandboxMarks {
  /** The command's session (it called setsid), or null. */
  session: number | null;
  /** The sandbox's mount namespace as /proc/PID/ns/mnt reads ("mnt:[4026532301]"), or null. */
  mountNamespace: string | null;
}

/** State and session of a process from the text of /proc/PID/stat; null when it does not parse. */
export function parseStat(text: string): { state: string; session: number } | null {
  // "pid (name) state ppid pgrp session ...": the name may hold spaces and ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const session = Number(fields[3]);
  if (!fields[0] || !Number.isInteger(session)) return null;
  return { state: fields[0], session };
}

/** The mount namespace of `pid`, or null when it cannot be read. */
export function mountNamespaceOf(pid: number, host: Host = realHost): string | null {
  try {
    return host.readLink(`/proc/${pid}/ns/mnt`);
  } catch {
    return null;
  }
}

/** Whether `pid` carries a mark and is still running (a zombie has nothing left to kill). */
function marked(host: Host, pid: number, marks: SandboxMarks): boolean {
  let stat;
  try {
    stat = parseStat(host.readText(`/proc/${pid}/stat`, "latin1"));
  } catch {
    return false; // gone meanwhile
  }
  if (!stat || stat.state === "Z" || stat.state === "X") return false;
  return stat.session === marks.session || (marks.mountNamespace !== null && mountNamespaceOf(pid, host) === marks.mountNamespace);
}

/**
 * SIGKILLs every process that carries one of the marks, pass after pass
 * until a pass finds none (a process killed cannot fork any more; one forked
 * during a pass is found by the next).
 */
export function killMarked(marks: SandboxMarks, host: Host = realHost): void {
  if (marks.session === null && marks.mountNamespace === null) return;
  for (let pass = 0; pass < 100; pass++) {
    let found = 0;
    for (const entry of host.list("/proc")) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 1 || pid === host.pid) continue;
      if (marked(host, pid, marks)) {
        host.kill(pid, SIGKILL);
        found++;
      }
    }
    if (found === 0) return;
  }
}
