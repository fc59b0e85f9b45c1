// Kernel constants shared by the layers: mount(2) flags, mount_setattr(2)
// attributes and clone(2) namespace flags (same values on every Linux
// architecture). A leaf: it imports nothing.

// mount(2) flags.
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_SYNCHRONOUS = 16;
export const MS_REMOUNT = 32;
export const MS_DIRSYNC = 128;
export const MS_NOSYMFOLLOW = 256;
export const MS_NOATIME = 1024;
export const MS_NODIRATIME = 2048;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MS_RELATIME = 1 << 21;
export const MS_STRICTATIME = 1 << 24;
export const MS_LAZYTIME = 1 << 25;

// mount_setattr(2) attributes.
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;

// clone(2) namespace flags.
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
