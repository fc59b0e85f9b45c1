// Mount points created in a root are shared by every sandbox running on it.
// Removing one that another sandbox mounted on would silently detach that
// sandbox's mount (rmdir detaches mounts in every namespace), so each run
// holds a shared flock on the root directory, and removes what it created
// only when it can take the lock exclusively: when it is the last one out.
import { close, flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, O_RDONLY, open } from "../native/libc.ts";

const O_DIRECTORY = 0o200000;

export interface RootLock {
  /** True when no other sandbox holds the root: removal is safe. */
  tryExclusive(): boolean;
  release(): void;
}

export function lockRoot(root: string): RootLock {
  const fd = open(root, O_RDONLY | O_DIRECTORY);
  flock(fd, LOCK_SH);
  let open_ = true;
  return {
    tryExclusive: () => flock(fd, LOCK_EX | LOCK_NB),
    release() {
      if (!open_) return;
      flock(fd, LOCK_UN);
      close(fd);
      open_ = false;
    },
  };
}
