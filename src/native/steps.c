/*
 * The step interpreter: runs the steps TypeScript planned (struct sbx_step,
 * laid out by src/native/layout.ts), in the calling thread (removing created
 * mount points, re-exec) or in a sandbox process (sandbox.c). It decides
 * nothing: what a failure exits with, which descriptors stay, are the plan's.
 */
#include "sbx.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- path resolution inside the root ---- */

void sbx_ctx_init(struct ctx *c, struct sbx_step *steps, long nsteps) {
  c->rootfd = -1;
  for (int i = 0; i < SBX_OWN_FDS; i++) c->own[i] = -1;
  c->steps = steps;
  c->nsteps = nsteps;
}

/* Opens `rel` relative to the root fd as if the root were '/': symlinks
 * (absolute or full of '..') can never lead outside it. */
static int open_in_root(struct ctx *c, const char *rel, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  if (c->rootfd < 0) {
    errno = EINVAL;
    return -1;
  }
  return (int)syscall(SYS_openat2, c->rootfd, (*rel ? rel : "."), &how, sizeof how);
}

/* Splits buf at its last '/', returning the parent fd (opened in root) and
 * pointing *name at the last component. */
static int open_parent_in_root(struct ctx *c, char *buf, char **name) {
  long i = (long)strlen(buf) - 1;
  while (i >= 0 && buf[i] != '/') i--;
  if (i < 0) {
    *name = buf;
    return open_in_root(c, ".", O_PATH | O_DIRECTORY);
  }
  buf[i] = 0;
  *name = buf + i + 1;
  int fd = open_in_root(c, buf, O_PATH | O_DIRECTORY);
  buf[i] = '/';
  return fd;
}

static int copy_path(char *buf, const char *src) {
  size_t n = strlen(src);
  if (n >= 4096) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (size_t i = 0; i <= n; i++) buf[i] = src[i];
  return 0;
}

/* mkdir -p inside the root; creates a file instead for the last component
 * when last_is_file. Counts the trailing components from the first one it
 * created, so that cleanup removes exactly those and nothing that was already
 * there. A component that a concurrent sandbox creates first is fine: the
 * path then exists, which is all a mount point needs. Failing part-way (a
 * name too long, a full disk), it still counts what it created, and in bits
 * 16 and up how many trailing components it never reached: cleanup removes
 * the created ones of the path without those (MKDIRS_UNREACHED_SHIFT in
 * mounts.ts). Counting them as not created left them in the root for good. */
#define MKDIRS_UNREACHED_SHIFT 16
static int mkdirs_in_root(struct ctx *c, const char *rel, int mode, int last_is_file, long *created) {
  char buf[4096];
  long ncomp = 0, first_created = -1;
  *created = 0;
  if (copy_path(buf, rel) < 0) return -1;
  size_t n = strlen(buf);
  long total = 1;
  for (size_t i = 0; i < n; i++) total += buf[i] == '/';
  for (size_t end = 1; end <= n; end++) {
    if (end != n && buf[end] != '/') continue;
    char saved = buf[end];
    buf[end] = 0;
    int is_last = end == n;
    int fd = open_in_root(c, buf, O_PATH);
    if (fd >= 0) {
      close(fd);
    } else if (errno == ENOENT) {
      char *name;
      int pfd = open_parent_in_root(c, buf, &name);
      if (pfd < 0) goto failed;
      int r;
      if (is_last && last_is_file) {
        r = openat(pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (r >= 0) close(r);
      } else {
        r = mkdirat(pfd, name, (unsigned int)mode);
      }
      int e = errno;
      close(pfd);
      if (r < 0) {
        /* Lost a race with another creator: fine if it now resolves. A
         * dangling symlink still does not, and stays an error. */
        int again = e == EEXIST ? open_in_root(c, buf, O_PATH) : -1;
        if (again < 0) {
          errno = e;
          goto failed;
        }
        close(again);
      } else if (first_created < 0) {
        first_created = ncomp;
      }
    } else {
      goto failed;
    }
    ncomp++;
    buf[end] = saved;
  }
  *created = first_created < 0 ? 0 : ncomp - first_created;
  return 0;
failed:
  /* Component ncomp was not created; errno is the failure's. */
  if (first_created >= 0) *created = (ncomp - first_created) | ((total - ncomp) << MKDIRS_UNREACHED_SHIFT);
  return -1;
}

/* Removes the `count` trailing components; one already gone (removed by a
 * duplicate journal entry) is passed over, one still in use stops it. */
static int rmdirs_in_root(struct ctx *c, const char *rel, long count, int last_is_file) {
  char buf[4096];
  if (copy_path(buf, rel) < 0) return -1;
  for (long i = 0; i < count; i++) {
    char *name;
    int pfd = open_parent_in_root(c, buf, &name);
    if (pfd < 0) return errno == ENOENT ? 0 : -1;
    int flags = (i == 0 && last_is_file) ? 0 : AT_REMOVEDIR;
    int r = unlinkat(pfd, name, flags);
    int e = errno;
    close(pfd);
    if (r < 0 && e != ENOENT) {
      errno = e;
      return -1;
    }
    if (name == buf) break;
    name[-1] = 0; /* drop the last component */
  }
  return 0;
}

static int target_path(struct ctx *c, struct sbx_step *s, const char *path, char *out, int *fd) {
  *fd = -1;
  if (!(s->flags & STEP_IN_ROOT)) {
    return copy_path(out, path);
  }
  *fd = open_in_root(c, path, O_PATH);
  if (*fd < 0) return -1;
  snprintf(out, 64, "/proc/self/fd/%d", *fd);
  return 0;
}

/* An optional step (STEP_OPTIONAL: kernel files that vary by kernel, masked or
 * made read-only) whose path in the root does not exist is skipped: only the
 * failure to open that path comes here, never the mount's own. */
static int skip_if_missing(struct sbx_step *s) {
  return (s->flags & STEP_OPTIONAL) && errno == ENOENT ? 0 : -1;
}

static int do_mount(struct ctx *c, struct sbx_step *s) {
  char target[4096], source[4096];
  int fd, sfd = -1;
  const char *src = s->mount.source;
  if (s->flags & STEP_SOURCE_IN_ROOT) {
    /* A bind whose source is also inside the root (writable paths). */
    sfd = open_in_root(c, s->mount.source, O_PATH);
    if (sfd < 0) return skip_if_missing(s);
    snprintf(source, 64, "/proc/self/fd/%d", sfd);
    src = source;
  }
  if (target_path(c, s, s->mount.target, target, &fd) < 0) {
    int e = errno;
    if (sfd >= 0) close(sfd);
    errno = e;
    return skip_if_missing(s);
  }
  int r = mount(src, target, s->mount.fstype, (unsigned long)s->mount.mount_flags, s->mount.data);
  int e = errno;
  if (fd >= 0) close(fd);
  if (sfd >= 0) close(sfd);
  errno = e;
  return r < 0 ? -1 : 0;
}

static int do_setattr(struct ctx *c, struct sbx_step *s) {
  struct mount_attr attr = {.attr_set = s->setattr.attr_set, .attr_clr = s->setattr.attr_clr};
  int fd = open_in_root(c, s->setattr.path, O_PATH);
  if (fd < 0) return skip_if_missing(s);
  long r = syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (s->setattr.recursive ? AT_RECURSIVE : 0), &attr, sizeof attr);
  int e = errno;
  close(fd);
  errno = e;
  return r < 0 ? -1 : 0;
}

/* Runs fn() with this process's root and working directory at the root of
 * its mount namespace (setns into its own namespace moves both there), then
 * puts the root back where it was unless fn() says it moved it (returns 1);
 * the working directory always comes back. A chroot build host's "/" is no
 * mount point: what needs one (making it private, pivot_root) is done from
 * the namespace's root, which is. Needs /proc. */
static int at_namespace_root(int (*fn)(int cwd)) {
  int root = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int cwd = openat(AT_FDCWD, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int ns = openat(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  int r = -1;
  if (root >= 0 && cwd >= 0 && ns >= 0 && setns(ns, CLONE_NEWNS) == 0) {
    r = fn(cwd);
    int e = errno;
    if (r == 0 && (fchdir(root) < 0 || chroot(".") < 0)) r = -1, e = errno;
    if (r >= 0 && fchdir(cwd) < 0) r = -1, e = errno;
    errno = e;
  }
  int e = errno;
  if (root >= 0) close(root);
  if (cwd >= 0) close(cwd);
  if (ns >= 0) close(ns);
  errno = e;
  return r < 0 ? -1 : 0;
}

static int make_private(int cwd) {
  (void)cwd;
  return mount(0, "/", 0, MS_REC | MS_PRIVATE, 0);
}

/* "/" private, submounts included, so that nothing mounted in the sandbox's
 * namespace reaches the host's. */
static int do_private_root(void) {
  if (mount(0, "/", 0, MS_REC | MS_PRIVATE, 0) == 0) return 0;
  if (errno != EINVAL) return -1;
  int e = errno;
  if (at_namespace_root(make_private) == 0) return 0;
  errno = e;
  return -1;
}

static int pivot_here(int cwd) {
  if (fchdir(cwd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) return -1;
  return 1; /* the root moved: it stays where pivot_root put it */
}

/* Enters the root the working directory is on, as pivot_root did, where
 * pivot_root is refused (a container engine's seccomp profile): the root's
 * mount moved onto "/" and chroot, as switch_root does. The old root stays
 * below it, reachable by a chroot escape: the plan's capabilities step then
 * drops CAP_SYS_CHROOT (it reads this step's out). */
static int move_root(void) {
  /* ELOOP: the root's mount is the one on top of "/" already (root "/"). */
  if (mount(".", "/", 0, MS_MOVE, 0) < 0 && errno != ELOOP) return -1;
  if (chroot(".") < 0) return -1;
  return chdir("/");
}

static int do_pivot_root(struct sbx_step *s) {
  if (chdir(s->pivot_root.path) < 0) return -1;
  /* pivot_root(".", ".") stacks the old root on top of the new one; it is
   * then made private and detached, leaving no path back to the host. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) {
    int e = errno;
    /* EINVAL: this root is no mount point (a chroot); from the
     * namespace's root it works. */
    if (e == EINVAL && at_namespace_root(pivot_here) == 0) {
      e = 0;
    } else if (e == EPERM && s->pivot_root.move_fallback) {
      if (move_root() < 0) return -1;
      s->out = 1;
      return 0;
    }
    if (e) {
      errno = e;
      return -1;
    }
  }
  if (mount(0, ".", 0, MS_REC | MS_PRIVATE, 0) < 0) return -1;
  if (umount2(".", MNT_DETACH) < 0) return -1;
  return chdir("/");
}

/* execvpe with a caller-given search path: 0 never returns on success. */
static int do_exec(struct sbx_step *s) {
  const char *file = s->exec.file;
  char *const *argv = s->exec.argv;
  char *const *envp = s->exec.envp;
  const char *path = s->exec.search_path;
  if (strchr(file, '/') || !path) {
    execve(file, argv, envp);
    return -1;
  }
  char buf[4096];
  size_t flen = strlen(file);
  int saw_eacces = 0;
  const char *p = path;
  for (;;) {
    const char *q = p;
    while (*q && *q != ':') q++;
    size_t dlen = (size_t)(q - p);
    if (dlen == 0) {
      buf[0] = '.';
      dlen = 1;
    } else if (dlen < sizeof buf) {
      for (size_t i = 0; i < dlen; i++) buf[i] = p[i];
    }
    if (dlen + 1 + flen < sizeof buf) {
      buf[dlen] = '/';
      for (size_t i = 0; i <= flen; i++) buf[dlen + 1 + i] = file[i];
      execve(buf, argv, envp);
      int e = errno;
      if (e == EACCES) {
        saw_eacces = 1;
      } else if (e != ENOENT && e != ENOTDIR) {
        return -1;
      }
    }
    if (!*q) break;
    p = q + 1;
  }
  errno = saw_eacces ? EACCES : ENOENT;
  return -1;
}

static int loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int r = ioctl(fd, SIOCGIFFLAGS, &ifr);
  if (r >= 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    r = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

static int do_open_fd(struct sbx_step *s) {
  int fd = openat(AT_FDCWD, s->open_fd.path, (int)s->open_fd.flags, (mode_t)s->open_fd.mode);
  if (fd < 0) return -1;
  s->out = fd;
  if (s->open_fd.fd >= 0 && fd != (int)s->open_fd.fd) {
    if (dup2(fd, (int)s->open_fd.fd) < 0) return -1;
    close(fd);
  }
  return 0;
}

/* Closes every fd from `first` up, except those in `keep` (ascending) and
 * the spawn's own (close-on-exec already), which must stay open until the
 * exec. */
int sbx_close_from(struct ctx *c, unsigned int first, const int32_t *keep, long nkeep) {
  /* Ranges between the kept fds are closed. */
  int kept[64 + SBX_OWN_FDS];
  long n = 0;
  for (long i = 0; i < nkeep && n < 64; i++) kept[n++] = keep[i];
  for (int k = 0; k < SBX_OWN_FDS; k++) {
    int fd = c->own[k];
    if (fd < 0) continue;
    long at = n;
    while (at > 0 && kept[at - 1] > fd) {
      kept[at] = kept[at - 1];
      at--;
    }
    kept[at] = fd;
    n++;
  }
  unsigned int from = first;
  for (long i = 0; i < n; i++) {
    unsigned int k = (unsigned int)kept[i];
    if (k < from) continue;
    if (k > from && close_range(from, k - 1, 0) < 0) return -1;
    from = k + 1;
  }
  return close_range(from, ~0U, 0);
}

/* Drops from this thread's bounding set every capability not in `keep`,
 * skipping those already gone: each drop copies the thread's credentials,
 * a reading does not. Returns 0, or -1 with errno set. */
int sbx_narrow_bounding_set(uint64_t keep) {
  for (int cap = 0; cap < 64; cap++) {
    int present = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0 && errno == EINVAL) break; /* past the kernel's last capability */
    /* A reading that fails otherwise counts as present: the drop decides. */
    if (present == 0 || (keep & (UINT64_C(1) << cap))) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return -1;
  }
  return 0;
}

static int do_capabilities(struct ctx *c, struct sbx_step *s) {
  uint64_t keep = s->capabilities.keep;
  /* pivot_step: 1 + the index of the pivot-root step; when it entered the
   * root by chroot, a chroot escape would reach the old root: no
   * CAP_SYS_CHROOT. */
  long pivot = s->capabilities.pivot_step;
  if (pivot > 0 && pivot <= c->nsteps && c->steps[pivot - 1].out == 1) keep &= ~(UINT64_C(1) << CAP_SYS_CHROOT);
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  /* What the caller does not hold, the command cannot get: a container's
   * reduced set (Podman has no MKNOD, NET_RAW, AUDIT_WRITE) narrows the
   * default set instead of failing the capset below. A --cap-add the caller
   * lacks was refused before the spawn. */
  if (syscall(SYS_capget, &header, data) == 0) keep &= (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
  if (sbx_narrow_bounding_set(keep) < 0) return -1;
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); /* EINVAL before Linux 4.3 */
  if (!s->capabilities.set_effective) return 0;
  data[0] = (struct __user_cap_data_struct){.effective = (uint32_t)keep, .permitted = (uint32_t)keep, .inheritable = 0};
  data[1] = (struct __user_cap_data_struct){.effective = (uint32_t)(keep >> 32), .permitted = (uint32_t)(keep >> 32), .inheritable = 0};
  return (int)syscall(SYS_capset, &header, data);
}

static int do_set_ids(struct sbx_step *s) {
  /* Raw: glibc's would change every thread's, the caller's too. */
  long uid = s->set_ids.uid, gid = s->set_ids.gid;
  if (syscall(SYS_setgroups, 0, 0) < 0) return -1;
  if (syscall(SYS_setresgid, gid, gid, gid) < 0) return -1;
  return (int)syscall(SYS_setresuid, uid, uid, uid);
}

static int do_seccomp(struct sbx_step *s) {
  struct sock_fprog prog = {.len = (unsigned short)s->seccomp.len, .filter = (struct sock_filter *)s->seccomp.filter};
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

int sbx_run_step(struct ctx *c, struct sbx_step *s) {
  switch (s->op) {
  case OP_MOUNT:
    return do_mount(c, s);
  case OP_MKDIRS:
    return mkdirs_in_root(c, s->mkdirs.path, (int)s->mkdirs.mode, (int)s->mkdirs.file, &s->out);
  case OP_CHROOT:
    return chroot(s->chroot.path);
  case OP_CHDIR:
    return chdir(s->chdir.path);
  case OP_PIVOT_ROOT:
    return do_pivot_root(s);
  case OP_PRIVATE_ROOT:
    return do_private_root();
  case OP_SETHOSTNAME:
    return sethostname(s->sethostname.name, strlen(s->sethostname.name));
  case OP_DUP2:
    if (s->dup2.from == s->dup2.to) return fcntl((int)s->dup2.from, F_SETFD, 0);
    return dup2((int)s->dup2.from, (int)s->dup2.to) < 0 ? -1 : 0;
  case OP_CLOSE_FROM:
    return sbx_close_from(c, (unsigned int)s->close_from.first, s->close_from.keep, s->close_from.nkeep);
  case OP_NO_NEW_PRIVS:
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  case OP_CAPABILITIES:
    return do_capabilities(c, s);
  case OP_SET_IDS:
    return do_set_ids(s);
  case OP_SECCOMP:
    return do_seccomp(s);
  case OP_RLIMIT: {
    struct rlimit lim = {.rlim_cur = s->rlimit.soft, .rlim_max = s->rlimit.hard};
    return setrlimit((int)s->rlimit.resource, &lim);
  }
  case OP_EXIT:
    _exit((int)s->exit.status);
    return 0;
  case OP_WRITE_FD: {
    long by = s->write_fd.opened_by;
    if (by < 0 || by >= c->nsteps || c->steps[by].out < 0) {
      errno = EINVAL;
      return -1;
    }
    long n = write((int)c->steps[by].out, s->write_fd.text, strlen(s->write_fd.text));
    return n < 0 ? -1 : 0;
  }
  case OP_SETSID:
    return setsid() < 0 ? -1 : 0;
  case OP_EXEC:
    return do_exec(s);
  case OP_SETATTR:
    return do_setattr(c, s);
  case OP_OPEN_ROOT:
    if (c->rootfd >= 0) close(c->rootfd);
    c->rootfd = openat(AT_FDCWD, s->open_root.path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return c->rootfd < 0 ? -1 : 0;
  case OP_CLOSE_ROOT:
    if (c->rootfd >= 0) close(c->rootfd);
    c->rootfd = -1;
    return 0;
  case OP_RMDIRS:
    return rmdirs_in_root(c, s->rmdirs.path, s->rmdirs.count, (int)s->rmdirs.file);
  case OP_SYMLINK: {
    char buf[4096];
    char *name;
    if (copy_path(buf, s->symlink.path) < 0) return -1;
    int pfd = open_parent_in_root(c, buf, &name);
    if (pfd < 0) return -1;
    int r = symlinkat(s->symlink.target, pfd, name);
    int e = errno;
    close(pfd);
    errno = e;
    return r;
  }
  case OP_MKNOD: {
    char buf[4096];
    char *name;
    if (copy_path(buf, s->mknod.path) < 0) return -1;
    int pfd = open_parent_in_root(c, buf, &name);
    if (pfd < 0) return -1;
    int r = mknodat(pfd, name, (mode_t)s->mknod.mode, (dev_t)s->mknod.dev);
    /* mknod honours the umask; device nodes get exactly the planned mode. */
    if (r == 0) r = fchmodat(pfd, name, (mode_t)s->mknod.mode & 07777, 0);
    int e = errno;
    close(pfd);
    errno = e;
    return r;
  }
  case OP_LOOPBACK_UP:
    return loopback_up();
  case OP_OPEN_FD:
    return do_open_fd(s);
  default:
    errno = EINVAL;
    return -1;
  }
}

/* ---- host side: run steps in the calling thread ---- */

/* Returns -1 when all steps succeeded, else the index of the failing step
 * (its errno in *err). Steps before it have taken effect. */
long sbx_run_steps(struct sbx_step *steps, long n, int *err) {
  struct ctx c;
  long failed = -1;
  sbx_ctx_init(&c, steps, n);
  for (long i = 0; i < n; i++) {
    if (sbx_run_step(&c, &steps[i]) < 0) {
      *err = errno;
      failed = i;
      break;
    }
  }
  if (c.rootfd >= 0) close(c.rootfd);
  return failed;
}

/* Cleanup runs every step and keeps going past failures; returns how many
 * failed and the first failure's index and errno. */
long sbx_run_all_steps(struct sbx_step *steps, long n, long *first_fail, int *err) {
  struct ctx c;
  long failed = 0;
  sbx_ctx_init(&c, steps, n);
  *first_fail = -1;
  for (long i = 0; i < n; i++) {
    if (sbx_run_step(&c, &steps[i]) < 0) {
      if (!failed) {
        *first_fail = i;
        *err = errno;
      }
      failed++;
    }
  }
  if (c.rootfd >= 0) close(c.rootfd);
  return failed;
}

