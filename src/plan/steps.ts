// The setup of a sandbox as data: an ordered list of steps that the native
// interpreter (src/native/steps.c) executes one by one. Plans are built and
// tested in pure TypeScript; only the interpreter touches the kernel.
//
// Paths marked "in root" are relative to the sandbox root and resolved by the
// kernel as if that root were '/' (openat2 RESOLVE_IN_ROOT): a symlink in the
// root filesystem can never lead a mount or a mkdir outside it.
import { shownPath } from "./paths.ts";

export type Step =
  | {
      op: "mount";
      source: string | null;
      /** Absolute host path, or a path in the root when `inRoot`. */
      target: string;
      inRoot: boolean;
      /** The source is a path in the root too (binds of writable paths). */
      sourceInRoot: boolean;
      fstype: string | null;
      flags: number;
      data: string | null;
      /** Skipped when its path in the root does not exist (kernel files that vary by kernel). */
      optional?: true;
    }
  | { op: "mkdirs"; path: string; mode: number; file: boolean }
  | { op: "chroot"; path: string }
  | { op: "chdir"; path: string }
  /**
   * With `moveFallback`, where pivot_root is refused (EPERM: a container's
   * seccomp profile) the root is entered by MS_MOVE onto "/" and chroot, and
   * the step's out says so (1).
   */
  | { op: "pivot-root"; path: string; moveFallback?: boolean }
  /** "/" made private, submounts included; done from the namespace's root when "/" is no mount point (a chroot). */
  | { op: "private-root" }
  | { op: "sethostname"; name: string }
  | { op: "dup2"; from: number; to: number }
  | { op: "close-from"; fd: number; keep: readonly number[] }
  | { op: "setsid" }
  | { op: "exec"; file: string; argv: string[]; env: string[]; searchPath: string | null }
  /** mount_setattr; `optional`: skipped when the path does not exist. */
  | { op: "setattr"; path: string; set: number; clear: number; recursive: boolean; optional?: true }
  | { op: "open-root"; path: string }
  | { op: "close-root" }
  | { op: "fork-command" }
  | { op: "rmdirs"; path: string; count: number; file: boolean }
  | { op: "symlink"; target: string; path: string }
  | { op: "mknod"; path: string; mode: number; dev: number }
  | { op: "loopback-up" }
  /** Opens a host file; `fd` -1 keeps the number the kernel gives (for write-fd). */
  | { op: "open-fd"; path: string; flags: number; mode: number; fd: number }
  /** Writes to the descriptor opened by the open-fd step at index `openedBy`. */
  | { op: "write-fd"; openedBy: number; content: string }
  /** Ends the process with `status` (probes that need no command). */
  | { op: "exit"; status: number }
  | { op: "no-new-privs" }
  /** Bounding set cut to `keep`; with `setEffective`, effective and permitted too. */
  /**
   * Bounding set cut to `keep`; with `setEffective`, effective and permitted
   * too. `pivotStep`: the plan's pivot-root step; when it fell back to
   * chroot, CAP_SYS_CHROOT goes too (a chroot escape would reach the old root).
   */
  | { op: "capabilities"; keep: bigint; setEffective: boolean; pivotStep?: number }
  | { op: "set-ids"; uid: number; gid: number }
  /** A classic BPF program (struct sock_filter[]). */
  | { op: "seccomp"; filter: Uint8Array }
  | { op: "rlimit"; name: string; resource: number; soft: bigint; hard: bigint };

/** One line naming what a step does, for error messages and `--print-plan`. */
export function describeStep(step: Step): string {
  switch (step.op) {
    case "mount": {
      const target = step.inRoot ? shownPath(step.target) : step.target;
      if (step.fstype) return `mount ${step.fstype} on ${target}`;
      return `mount ${step.source ?? "none"} on ${target}`;
    }
    case "mkdirs":
      return `create mount point ${shownPath(step.path)}`;
    case "chroot":
      return `chroot into ${step.path}`;
    case "chdir":
      return `change directory to ${step.path}`;
    case "pivot-root":
      return `pivot_root into ${step.path}`;
    case "private-root":
      return "make / private";
    case "sethostname":
      return `set hostname ${step.name}`;
    case "dup2":
      return `redirect fd ${step.from} to ${step.to}`;
    case "close-from":
      return `close file descriptors from ${step.fd}`;
    case "setsid":
      return "start a new session";
    case "exec":
      return `execute ${step.file}`;
    case "setattr":
      return `set mount attributes of ${shownPath(step.path)}`;
    case "open-root":
      return `open root ${step.path}`;
    case "close-root":
      return "close root";
    case "fork-command":
      return "start the command process";
    case "rmdirs":
      return `remove created mount point ${shownPath(step.path)}`;
    case "symlink":
      return `create symlink ${shownPath(step.path)}`;
    case "mknod":
      return `create device ${shownPath(step.path)}`;
    case "loopback-up":
      return "bring up loopback interface lo";
    case "open-fd":
      return `open ${step.path} as fd ${step.fd}`;
    case "no-new-privs":
      return "set no_new_privs";
    case "capabilities":
      return "drop capabilities";
    case "set-ids":
      return `switch to uid ${step.uid} gid ${step.gid}`;
    case "seccomp":
      return "load the seccomp filter";
    case "rlimit":
      return `set rlimit ${step.name}`;
    case "write-fd":
      return "join the sandbox's cgroups";
    case "exit":
      return "exit";
  }
}
