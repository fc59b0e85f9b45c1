// fstab-style mount options ("ro,nosuid,size=64m,mode=1777") split into
// mount(2) flags and the filesystem's data string.
import { configError } from "../base/errors.ts";

import { MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_REMOUNT, MS_DIRSYNC, MS_NOSYMFOLLOW, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME, MS_STRICTATIME, MS_LAZYTIME } from "../base/kernel-constants.ts";
export { MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_REMOUNT, MS_DIRSYNC, MS_NOSYMFOLLOW, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME, MS_STRICTATIME, MS_LAZYTIME };

/** Options that set (or, with `clear`, unset) a mount flag. */
const FLAG_OPTIONS: Record<string, { set: number } | { clear: number }> = {
  ro: { set: MS_RDONLY },
  rw: { clear: MS_RDONLY },
  nosuid: { set: MS_NOSUID },
  suid: { clear: MS_NOSUID },
  nodev: { set: MS_NODEV },
  dev: { clear: MS_NODEV },
  noexec: { set: MS_NOEXEC },
  exec: { clear: MS_NOEXEC },
  sync: { set: MS_SYNCHRONOUS },
  async: { clear: MS_SYNCHRONOUS },
  dirsync: { set: MS_DIRSYNC },
  nosymfollow: { set: MS_NOSYMFOLLOW },
  noatime: { set: MS_NOATIME },
  atime: { clear: MS_NOATIME },
  nodiratime: { set: MS_NODIRATIME },
  diratime: { clear: MS_NODIRATIME },
  relatime: { set: MS_RELATIME },
  norelatime: { clear: MS_RELATIME },
  strictatime: { set: MS_STRICTATIME },
  lazytime: { set: MS_LAZYTIME },
  nolazytime: { clear: MS_LAZYTIME },
};

/** fstab words that mean nothing to mount(2) itself. */
const IGNORED = new Set(["defaults", "auto", "noauto", "user", "nouser", "users", "_netdev", "nofail"]);

/** Options sandboxlib will not pass: they would act on existing mounts. */
const REFUSED = new Set(["move", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"]);

export interface ParsedMount {
  /** mount(2) flags (MS_BIND and MS_REC included for binds). */
  flags: number;
  /** The filesystem-specific data string, or null. */
  data: string | null;
  bind: boolean;
  readOnly: boolean;
  /**
   * `remount,ro` (the Python linux-user-chroot backend's --mount-readonly):
   * no new filesystem, the path of the root made read-only, submounts
   * included. Present only when true.
   */
  remount?: true;
}

/** Types that mean "no filesystem: a bind mount of the source". */
const BIND_TYPES = new Set(["bind", "rbind"]);

export function isBindType(type: string | null): boolean {
  return type !== null && BIND_TYPES.has(type);
}

/**
 * What every mount of the sandbox gets unless its options say otherwise:
 * no device nodes (a node made with a host disk's numbers reads and writes
 * the disk) and no set-user-ID programs. `dev` / `suid` are the user's
 * explicit choice and clear them.
 */
export const DEFAULT_MOUNT_FLAGS = MS_NOSUID | MS_NODEV;

/**
 * Parses the options of an extra mount. `type` may itself say bind/rbind.
 * Binds are always recursive, so that nothing under the source is revealed
 * without the flags asked for. The flags start from DEFAULT_MOUNT_FLAGS;
 * options apply in order, the last word on a flag wins ("dev,nodev" is nodev).
 */
export function parseMountOptions(options: string, type: string | null): ParsedMount {
  let flags = DEFAULT_MOUNT_FLAGS;
  let bind = isBindType(type);
  let remount = false;
  const data: string[] = [];
  for (const raw of options.split(",")) {
    const opt = raw.trim();
    if (opt === "" || IGNORED.has(opt) || opt.startsWith("x-") || opt.startsWith("comment=")) continue;
    if (REFUSED.has(opt)) throw configError(`mount option not supported: ${opt}`);
    if (opt === "remount") {
      remount = true;
      continue;
    }
    if (opt === "bind" || opt === "rbind") {
      bind = true;
      continue;
    }
    if (opt === "private" || opt === "rprivate") continue; // every sandbox mount is private already
    const flag = FLAG_OPTIONS[opt];
    if (flag) {
      if ("set" in flag) flags |= flag.set;
      else flags &= ~flag.clear;
      continue;
    }
    data.push(opt);
  }
  if (remount) return remountOptions(flags, data, type);
  if (bind) {
    flags |= MS_BIND | MS_REC;
    if (data.length > 0) throw configError(`bind mount takes no filesystem options: ${data.join(",")}`);
  }
  return { flags, data: data.length ? data.join(",") : null, bind, readOnly: (flags & MS_RDONLY) !== 0 };
}

const isNoType = (type: string | null) => type === null || type === "" || type === "none" || isBindType(type);

/**
 * `remount,ro` (with `bind` or not, as util-linux spells it): what the Python
 * linux-user-chroot backend turned into a read-only mount of the target. Only
 * that: a remount that would make a path writable, change a filesystem's
 * options or name a type is refused.
 */
function remountOptions(flags: number, data: readonly string[], type: string | null): ParsedMount {
  if (!isNoType(type)) throw configError(`mount option remount takes no filesystem type: ${type} (remount,ro makes a path of the root read-only)`);
  if (!(flags & MS_RDONLY)) throw configError("mount option not supported: remount without ro (remount,ro makes a path of the root read-only)");
  if (data.length > 0) throw configError(`remount takes no filesystem options: ${data.join(",")}`);
  return { flags: flags | MS_BIND | MS_REC, data: null, bind: false, readOnly: true, remount: true };
}
