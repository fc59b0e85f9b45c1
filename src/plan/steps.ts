// The setup of a sandbox as data: an ordered list of steps that the native
// interpreter (src/native/steps.c) executes one by one. Plans are built and
// tested in pure TypeScript; only the interpreter touches the kernel.
//
// Paths marked "in root" are relative to the sandbox root and resolved by the
// kernel as if that root were '/' (openat2 RESOLVE_IN_ROOT): a symlink in the
// root filesystem can never lead a mount or a mkdir outside it.
import { shownPath } from "../base/paths.ts";
import type { Step } from "../base/steps.ts";

export type { Step };

/** One line naming what a step does, for error messages and `--print-plan`. */
export function describeStep(step: Step): string {
  switch (step.op) {
    case "mount": {
      if (step.purpose) return step.purpose;
      const target = step.inRoot ? shownPath(step.target) : step.target;
      if (step.fstype) return `mount ${step.fstype} on ${target}`;
      return `mount ${step.source ?? "none"} on ${target}`;
    }
    case "mkdirs":
      return step.keep ? `create writable path ${shownPath(step.path)}` : `create mount point ${shownPath(step.path)}`;
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
