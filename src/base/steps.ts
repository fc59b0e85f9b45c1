// The setup of a sandbox as data: an ordered list of steps that the native
// interpreter (src/native/helper.c) executes one by one. The vocabulary lives
// in this leaf so that the planners (src/plan) and the encoder (src/native)
// share it without importing each other.
//
// Paths marked "in root" are relative to the sandbox root and resolved by the
// kernel as if that root were '/' (openat2 RESOLVE_IN_ROOT): a symlink in the
// root filesystem can never lead a mount or a mkdir outside it.

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
      /** What the mount is for, when "mount X on Y" would not say it (messages, --print-plan). */
      purpose?: string;
    }
  /**
   * `keep`: a directory the user asked to have created (--writable-create),
   * not a mount point: the run's cleanup leaves it.
   */
  | { op: "mkdirs"; path: string; mode: number; file: boolean; keep?: true }
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
  /** afterLauncher: the command waits for its launcher to be reaped (see init.c): a --pids limit counts the launcher until then. */
  | { op: "exec"; file: string; argv: string[]; env: string[]; searchPath: string | null; afterLauncher?: boolean }
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

