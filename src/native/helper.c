/*
 * sandboxlib native step interpreter.
 *
 * Compiled in-process by bun:ffi's cc (TinyCC), so it declares its own
 * prototypes: target hosts have no libc headers. TypeScript prepares a list of
 * steps (struct sbx_step, layout mirrored in steps-layout.ts); this file only
 * executes them, in the calling thread (removing created mount points) or in a
 * cloned child that shares the caller's memory (CLONE_VM) until it execs.
 *
 * Rules that keep the child safe (see DESIGN.md):
 *  - no JavaScript and no malloc in the child, only stack buffers;
 *  - the spawning thread blocks in sbx_spawn() until the command has exec'd
 *    or failed, so the child may use glibc while the caller waits (for
 *    sbx_spawn_async, the caller is a spawner thread of this file); the
 *    kernel tells it, by clearing a word of shared memory at each child's
 *    exec or exit (CLONE_CHILD_CLEARTID);
 *  - the init loop that outlives sbx_spawn() uses raw syscalls only, so it
 *    never writes the caller thread's errno.
 */

typedef unsigned long size_t;
typedef long ssize_t;

extern int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
extern long syscall(long n, ...);
extern int mount(const char *, const char *, const char *, unsigned long, const void *);
extern int umount2(const char *, int);
extern int chroot(const char *);
extern int chdir(const char *);
extern int fchdir(int);
extern int execve(const char *, char *const[], char *const[]);
extern int dup2(int, int);
extern int dup(int);
extern int fcntl(int, int, ...);
extern int close(int);
extern ssize_t write(int, const void *, size_t);
extern ssize_t read(int, void *, size_t);
extern int *__errno_location(void);
extern void _exit(int);
extern int pipe2(int *, int);
extern int sethostname(const char *, size_t);
extern int setsid(void);
extern int prctl(int, ...);
extern int mkdirat(int, const char *, unsigned int);
extern int openat(int, const char *, int, ...);
extern int unlinkat(int, const char *, int);
extern int symlinkat(const char *, int, const char *);
extern int mknodat(int, const char *, unsigned int, unsigned long);
extern int fchmodat(int, const char *, unsigned int, int);
extern int socket(int, int, int);
extern int ioctl(int, unsigned long, ...);
extern void *mmap(void *, size_t, int, int, int, long);
extern int munmap(void *, size_t);
extern int snprintf(char *, size_t, const char *, ...);
extern int getpid(void);
extern int getppid(void);
extern int setrlimit(int, const void *);
extern int poll(void *, unsigned long, int);
extern int pthread_create(unsigned long *, const void *, void *(*)(void *), void *);
extern int pthread_detach(unsigned long);
extern int pthread_join(unsigned long, void **);

#define errno (*__errno_location())

/* ---- constants (x86_64 and aarch64 share these values) ---- */
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NOCTTY 0400
#define O_TRUNC 01000
#define O_DIRECTORY 0200000
#define O_NOFOLLOW 0400000
#define O_CLOEXEC 02000000
#define O_PATH 010000000
#define AT_REMOVEDIR 0x200
#define AT_RECURSIVE 0x8000
#define AT_EMPTY_PATH 0x1000
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10
#define MS_RDONLY 1
#define MS_BIND 4096
#define MS_REC 16384
#define MS_PRIVATE (1 << 18)
#define MS_MOVE 8192
#define EPERM 1
#define ELOOP 40
#define CAP_SYS_CHROOT 18
#define MNT_DETACH 2
#define PR_SET_PDEATHSIG 1
#define PR_SET_CHILD_SUBREAPER 36
#define PR_SET_NAME 15
#define PR_SET_DUMPABLE 4
#define PR_SET_SECCOMP 22
#define PR_CAPBSET_READ 23
#define PR_CAPBSET_DROP 24
#define PR_SET_NO_NEW_PRIVS 38
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#define SECCOMP_MODE_FILTER 2
#define SIGKILL 9
#define SIGTERM 15
#define SI_USER 0
#define SIGCHLD 17
#define SIGSTOP 19
#define CLONE_VM 0x00000100
#define CLONE_VFORK 0x00004000
#define CLONE_PARENT_SETTID 0x00100000
#define CLONE_CHILD_CLEARTID 0x00200000
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define CLONE_NEWPID 0x20000000
#define F_SETFD 2
#define F_SETFL 4
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 2
#define MAP_ANONYMOUS 0x20
#define MAP_STACK 0x20000
#define WNOHANG 1
#define EINTR 4
#define ENOENT 2
#define ENOTDIR 20
#define EACCES 13
#define EAGAIN 11
#define ECHILD 10
#define EINVAL 22
#define EPIPE 32
#define EEXIST 17
#define ENAMETOOLONG 36
#define AF_INET 2
#define SOCK_DGRAM 2
#define SIOCGIFFLAGS 0x8913
#define SIOCSIFFLAGS 0x8914
#define IFF_UP 1
#define IFF_RUNNING 0x40

#define SYS_pidfd_open 434
#define AT_EMPTY_PATH_FLAG 0x1000
#define SYS_openat2 437
#define SYS_close_range 436
#define SYS_mount_setattr 442
#if defined(__x86_64__)
#define SYS_pivot_root 155
#define SYS_setns 308
#define SYS_rt_sigprocmask 14
#define SYS_rt_sigaction 13
#define SYS_rt_sigtimedwait 128
#define SYS_wait4 61
#define SYS_kill 62
#define SYS_exit_group 231
#define SYS_close 3
#define SYS_capset 126
#define SYS_capget 125
#define SYS_setgroups 116
#define SYS_setresuid 117
#define SYS_setresgid 119
#define SYS_execveat 322
#define SYS_futex 202
#define SYS_getppid 110
#elif defined(__aarch64__)
#define SYS_pivot_root 41
#define SYS_setns 268
#define SYS_rt_sigprocmask 135
#define SYS_rt_sigaction 134
#define SYS_rt_sigtimedwait 137
#define SYS_wait4 260
#define SYS_kill 129
#define SYS_exit_group 94
#define SYS_close 57
#define SYS_capset 91
#define SYS_capget 90
#define SYS_setgroups 159
#define SYS_setresuid 147
#define SYS_setresgid 149
#define SYS_execveat 281
#define SYS_futex 98
#define SYS_getppid 173
#else
#error "sandboxlib's helper supports x86_64 and aarch64"
#endif

/* Raw system call that never touches errno: returns -errno on failure. The
 * init loop runs concurrently with the caller's thread and shares its TLS. */
#if defined(__x86_64__)
static long rawsys(long n, long a, long b, long c, long d) {
  long ret;
  __asm__ volatile("mov %5, %%r10\n\tsyscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(d)
                   : "rcx", "r11", "r10", "memory");
  return ret;
}
#else
/* TinyCC has no inline assembler on aarch64: glibc's syscall() may write
 * errno here, a known and documented limitation of that architecture. */
static long rawsys(long n, long a, long b, long c, long d) {
  long r = syscall(n, a, b, c, d);
  return r == -1 ? -errno : r;
}
#endif

#define sweep_sys rawsys
#include "sweep.h"

/* ---- the plan, as laid out by TypeScript (steps-layout.ts) ---- */
struct sbx_step {
  int op;
  int flags;
  long a, b, c, d;
  const char *s1, *s2, *s3, *s4;
  long out;
};

struct sbx_spawn {
  long clone_flags;       /*  0 namespaces etc. (CLONE_VM is added here) */
  struct sbx_step *steps; /*  8 */
  long nsteps;            /* 16 */
  long fail_step;         /* 24 out: failing step index, -1 when none */
  long fail_errno;        /* 32 out */
  long cmd_status;        /* 40 out: wait status of the command (init only), -1 until known */
  long cmd_pid;           /* 48 out: the command's pid (in its own PID namespace) */
  char *stack;            /* 56 internal */
  long stack_size;        /* 64 internal */
  long ru_utime_us;       /* 72 out: rusage of the command (init only) */
  long ru_stime_us;       /* 80 */
  long ru_maxrss_kb;      /* 88 */
  int sandbox_tid;        /* 96 internal: nonzero until the sandbox process execs or exits */
  int cmd_tid;            /* 100 internal: the same for the command process */
  long cmd_start;         /* 104 internal: first step run by the command process */
  long parent_pidfd;      /* 112 internal: pidfd of the caller, -1 when unsupported */
  long init_fd;           /* 120 in: memfd of sandboxlib-init (init.c), -1 to keep the init here */
  long status_rfd;        /* 128 out: where that init writes the command's status, -1 when none */
  long status_wfd;        /* 136 internal */
  long go_rfd;            /* 144 internal: the command waits for EOF here (init exec'd) */
  long go_wfd;            /* 152 internal */
  long async_result;      /* 160 out: what sbx_spawn returned, for sbx_spawn_async */
  int async_pending;      /* 168 internal: nonzero while a spawner thread has the spawn (sbx_spawn_async) */
  int async_pad;          /* 172 */
  long bounding_set;      /* 176 in, for sbx_spawn_async: capabilities the spawner thread may narrow its bounding set to */
};

enum {
  OP_MOUNT = 1,         /* s1 source, s2 target, s3 fstype, s4 data, a flags;
                           flags&1: target in root, flags&2: source in root, flags&4: optional */
  OP_MKDIRS = 2,        /* s1 path in root, a mode, b 1: last component is a file; out = components created */
  OP_CHROOT = 4,        /* s1 */
  OP_CHDIR = 5,         /* s1 */
  OP_PIVOT_ROOT = 6,    /* s1 new root (absolute) */
  OP_SETHOSTNAME = 7,   /* s1 */
  OP_DUP2 = 8,          /* a from, b to */
  OP_CLOSE_FROM = 9,    /* a first fd to close; s1 int[] of fds to keep (ascending), b their count */
  OP_SETSID = 10,
  OP_EXEC = 11,         /* s1 file, s2 argv, s3 envp, s4 search PATH */
  OP_SETATTR = 12,      /* s1 path in root, a attr_set, b attr_clr, c recursive; flags&4: optional */
  OP_OPEN_ROOT = 13,    /* s1 root directory */
  OP_FORK_COMMAND = 14, /* the following steps run in the command process; this one becomes init */
  OP_RMDIRS = 15,       /* s1 path in root, a number of trailing components to remove, b 1: last is a file */
  OP_SYMLINK = 16,      /* s1 link text, s2 link path in root */
  OP_MKNOD = 17,        /* s1 path in root, a mode, b device number */
  OP_LOOPBACK_UP = 18,
  OP_OPEN_FD = 19,      /* s1 host path, a open flags, b mode, c target fd number (-1: any; out = fd) */
  OP_SET_NAME = 20,     /* s1 process name */
  OP_CLOSE_ROOT = 21,
  OP_NO_NEW_PRIVS = 22,
  OP_CAPABILITIES = 23, /* a: capabilities kept (bit mask), b: 1 to set them effective and permitted */
  OP_SET_IDS = 24,      /* a uid, b gid: supplementary groups cleared */
  OP_SECCOMP = 25,      /* s1 struct sock_filter[], a instruction count */
  OP_RLIMIT = 26,       /* a resource, b soft, c hard */
  OP_WRITE_FILE = 27,   /* s1 path, s2 text */
  OP_WRITE_FD = 28,     /* a index of the OP_OPEN_FD step that opened the fd, s1 text */
  OP_EXIT = 29,         /* a status: ends the process instead of exec (host checks) */
  OP_PRIVATE_ROOT = 40  /* "/" and everything under it made private (no propagation to the host) */
};

struct open_how {
  unsigned long flags;
  unsigned long mode;
  unsigned long resolve;
};

struct mount_attr {
  unsigned long attr_set;
  unsigned long attr_clr;
  unsigned long propagation;
  unsigned long userns_fd;
};

struct ifreq_lite {
  char name[16];
  short flags;
  char pad[22];
};

/* ---- small string helpers (no libc headers) ---- */
static size_t slen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static int has_slash(const char *s) {
  for (; *s; s++)
    if (*s == '/') return 1;
  return 0;
}

/* ---- path resolution inside the root ---- */

/* Per-run state. Lives on the running stack, never in a static: the child
 * shares the caller's memory but not its file descriptor table. */
struct ctx {
  int rootfd;
  int gofd; /* the command's end of the go pipe (kept open until its exec) */
  struct sbx_step *steps; /* the whole plan, for steps that refer to others */
  long nsteps;
};

static void ctx_init(struct ctx *c, struct sbx_step *steps, long nsteps) {
  c->rootfd = -1;
  c->gofd = -1;
  c->steps = steps;
  c->nsteps = nsteps;
}

/* Opens `rel` relative to the root fd as if the root were '/': symlinks
 * (absolute or full of '..') can never lead outside it. */
static int open_in_root(struct ctx *c, const char *rel, int flags) {
  struct open_how how;
  how.flags = (unsigned long)(flags | O_CLOEXEC);
  how.mode = 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  if (c->rootfd < 0) {
    errno = EINVAL;
    return -1;
  }
  return (int)syscall(SYS_openat2, c->rootfd, (*rel ? rel : "."), &how, sizeof how);
}

/* Splits buf at its last '/', returning the parent fd (opened in root) and
 * pointing *name at the last component. */
static int open_parent_in_root(struct ctx *c, char *buf, char **name) {
  long i = (long)slen(buf) - 1;
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
  size_t n = slen(src);
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
  size_t n = slen(buf);
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
  if (!(s->flags & 1)) {
    return copy_path(out, path);
  }
  *fd = open_in_root(c, path, O_PATH);
  if (*fd < 0) return -1;
  snprintf(out, 64, "/proc/self/fd/%d", *fd);
  return 0;
}

/* An optional step (flags&4: kernel files that vary by kernel, masked or
 * made read-only) whose path in the root does not exist is skipped: only the
 * failure to open that path comes here, never the mount's own. */
#define STEP_OPTIONAL 4
static int skip_if_missing(struct sbx_step *s) {
  return (s->flags & STEP_OPTIONAL) && errno == ENOENT ? 0 : -1;
}

static int do_mount(struct ctx *c, struct sbx_step *s) {
  char target[4096], source[4096];
  int fd, sfd = -1;
  const char *src = s->s1;
  if (s->flags & 2) {
    /* A bind whose source is also inside the root (writable paths). */
    sfd = open_in_root(c, s->s1, O_PATH);
    if (sfd < 0) return skip_if_missing(s);
    snprintf(source, 64, "/proc/self/fd/%d", sfd);
    src = source;
  }
  if (target_path(c, s, s->s2, target, &fd) < 0) {
    int e = errno;
    if (sfd >= 0) close(sfd);
    errno = e;
    return skip_if_missing(s);
  }
  int r = mount(src, target, s->s3, (unsigned long)s->a, s->s4);
  int e = errno;
  if (fd >= 0) close(fd);
  if (sfd >= 0) close(sfd);
  errno = e;
  return r < 0 ? -1 : 0;
}

static int do_setattr(struct ctx *c, struct sbx_step *s) {
  struct mount_attr attr;
  attr.attr_set = (unsigned long)s->a;
  attr.attr_clr = (unsigned long)s->b;
  attr.propagation = 0;
  attr.userns_fd = 0;
  int fd = open_in_root(c, s->s1, O_PATH);
  if (fd < 0) return skip_if_missing(s);
  long r = syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (s->c ? AT_RECURSIVE : 0), &attr, sizeof attr);
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
  int root = openat(-100, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int cwd = openat(-100, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int ns = openat(-100, "/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  int r = -1;
  if (root >= 0 && cwd >= 0 && ns >= 0 && syscall(SYS_setns, ns, 0x00020000 /* CLONE_NEWNS */) == 0) {
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
  if (chdir(s->s1) < 0) return -1;
  /* pivot_root(".", ".") stacks the old root on top of the new one; it is
   * then made private and detached, leaving no path back to the host. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) {
    int e = errno;
    /* EINVAL: this root is no mount point (a chroot); from the
     * namespace's root it works. */
    if (e == EINVAL && at_namespace_root(pivot_here) == 0) {
      e = 0;
    } else if (e == EPERM && s->a) {
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
  const char *file = s->s1;
  char *const *argv = (char *const *)s->s2;
  char *const *envp = (char *const *)s->s3;
  const char *path = s->s4;
  if (has_slash(file) || !path) {
    execve(file, argv, envp);
    return -1;
  }
  char buf[4096];
  size_t flen = slen(file);
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
  struct ifreq_lite ifr;
  for (int i = 0; i < (int)sizeof ifr; i++) ((char *)&ifr)[i] = 0;
  ifr.name[0] = 'l';
  ifr.name[1] = 'o';
  int r = ioctl(fd, SIOCGIFFLAGS, &ifr);
  if (r >= 0) {
    ifr.flags |= IFF_UP | IFF_RUNNING;
    r = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

static int do_open_fd(struct sbx_step *s) {
  int fd = openat(-100, s->s1, (int)s->a, (unsigned int)s->b);
  if (fd < 0) return -1;
  s->out = fd;
  if (s->c >= 0 && fd != (int)s->c) {
    if (dup2(fd, (int)s->c) < 0) return -1;
    close(fd);
  }
  return 0;
}

/* Closes every fd from `first` up, except those in `keep` (ascending) and
 * the go pipe (close-on-exec already), which must stay open until the exec. */
static int close_from(struct ctx *c, unsigned int first, const int *keep, long nkeep) {
  /* Ranges between the kept fds are closed. */
  int kept[64];
  long n = 0;
  for (long i = 0; i < nkeep && n < 63; i++) kept[n++] = keep[i];
  if (c->gofd >= 0) {
    long at = n;
    while (at > 0 && kept[at - 1] > c->gofd) {
      kept[at] = kept[at - 1];
      at--;
    }
    kept[at] = c->gofd;
    n++;
  }
  unsigned int from = first;
  for (long i = 0; i < n; i++) {
    unsigned int k = (unsigned int)kept[i];
    if (k < from) continue;
    if (k > from && syscall(SYS_close_range, from, k - 1, 0) < 0) return -1;
    from = k + 1;
  }
  return (int)syscall(SYS_close_range, from, ~0U, 0);
}

/* Drops from this thread's bounding set every capability not in `keep`,
 * skipping those already gone: each drop copies the thread's credentials,
 * a reading does not. Returns 0, or -1 with errno set. */
static int narrow_bounding_set(unsigned long keep) {
  for (int cap = 0; cap < 64; cap++) {
    int present = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0 && errno == EINVAL) break; /* past the kernel's last capability */
    /* A reading that fails otherwise counts as present: the drop decides. */
    if (present == 0 || (keep & (1UL << cap))) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return -1;
  }
  return 0;
}

static int do_capabilities(struct ctx *c, struct sbx_step *s) {
  unsigned long keep = (unsigned long)s->a;
  /* c: 1 + the index of the pivot-root step; when it entered the root by
   * chroot, a chroot escape would reach the old root: no CAP_SYS_CHROOT. */
  if (s->c > 0 && s->c <= c->nsteps && c->steps[s->c - 1].out == 1) keep &= ~(1UL << CAP_SYS_CHROOT);
  unsigned int header[2];
  unsigned int data[6];
  header[0] = 0x20080522; /* _LINUX_CAPABILITY_VERSION_3 */
  header[1] = 0;
  /* What the caller does not hold, the command cannot get: a container's
   * reduced set (Podman has no MKNOD, NET_RAW, AUDIT_WRITE) narrows the
   * default set instead of failing the capset below. A --cap-add the caller
   * lacks was refused before the spawn. */
  if (syscall(SYS_capget, header, data) == 0) keep &= (unsigned long)data[1] | ((unsigned long)data[4] << 32);
  if (narrow_bounding_set(keep) < 0) return -1;
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); /* EINVAL before Linux 4.3 */
  if (!s->b) return 0;
  data[0] = (unsigned int)keep;         /* effective */
  data[1] = (unsigned int)keep;         /* permitted */
  data[2] = 0;                          /* inheritable */
  data[3] = (unsigned int)(keep >> 32);
  data[4] = (unsigned int)(keep >> 32);
  data[5] = 0;
  return (int)syscall(SYS_capset, header, data);
}

static int do_set_ids(struct sbx_step *s) {
  if (syscall(SYS_setgroups, 0, 0) < 0) return -1;
  if (syscall(SYS_setresgid, s->b, s->b, s->b) < 0) return -1;
  return (int)syscall(SYS_setresuid, s->a, s->a, s->a);
}

static int do_seccomp(struct sbx_step *s) {
  struct {
    unsigned short len;
    const void *filter;
  } prog;
  prog.len = (unsigned short)s->a;
  prog.filter = s->s1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static int do_write_file(const char *path, const char *text) {
  int fd = openat(-100, path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long n = write(fd, text, slen(text));
  int e = errno;
  close(fd);
  errno = e;
  return n < 0 ? -1 : 0;
}

/* Runs one step; returns 0, or -1 with errno set. OP_FORK_COMMAND and the
 * process structure are handled by the callers. */
static int run_step(struct ctx *c, struct sbx_step *s) {
  switch (s->op) {
  case OP_MOUNT:
    return do_mount(c, s);
  case OP_MKDIRS:
    return mkdirs_in_root(c, s->s1, (int)s->a, (int)s->b, &s->out);
  case OP_CHROOT:
    return chroot(s->s1);
  case OP_CHDIR:
    return chdir(s->s1);
  case OP_PIVOT_ROOT:
    return do_pivot_root(s);
  case OP_PRIVATE_ROOT:
    return do_private_root();
  case OP_SETHOSTNAME:
    return sethostname(s->s1, slen(s->s1));
  case OP_DUP2:
    if (s->a == s->b) return fcntl((int)s->a, F_SETFD, 0);
    return dup2((int)s->a, (int)s->b) < 0 ? -1 : 0;
  case OP_CLOSE_FROM:
    return close_from(c, (unsigned int)s->a, (const int *)s->s1, s->b);
  case OP_NO_NEW_PRIVS:
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  case OP_CAPABILITIES:
    return do_capabilities(c, s);
  case OP_SET_IDS:
    return do_set_ids(s);
  case OP_SECCOMP:
    return do_seccomp(s);
  case OP_RLIMIT: {
    unsigned long lim[2];
    lim[0] = (unsigned long)s->b;
    lim[1] = (unsigned long)s->c;
    return setrlimit((int)s->a, lim);
  }
  case OP_WRITE_FILE:
    return do_write_file(s->s1, s->s2);
  case OP_EXIT:
    _exit((int)s->a);
    return 0;
  case OP_WRITE_FD: {
    if (s->a < 0 || s->a >= c->nsteps || c->steps[s->a].out < 0) {
      errno = EINVAL;
      return -1;
    }
    long n = write((int)c->steps[s->a].out, s->s1, slen(s->s1));
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
    c->rootfd = openat(-100, s->s1, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return c->rootfd < 0 ? -1 : 0;
  case OP_CLOSE_ROOT:
    if (c->rootfd >= 0) close(c->rootfd);
    c->rootfd = -1;
    return 0;
  case OP_RMDIRS:
    return rmdirs_in_root(c, s->s1, s->a, (int)s->b);
  case OP_SYMLINK: {
    char buf[4096];
    char *name;
    if (copy_path(buf, s->s2) < 0) return -1;
    int pfd = open_parent_in_root(c, buf, &name);
    if (pfd < 0) return -1;
    int r = symlinkat(s->s1, pfd, name);
    int e = errno;
    close(pfd);
    errno = e;
    return r;
  }
  case OP_MKNOD: {
    char buf[4096];
    char *name;
    if (copy_path(buf, s->s1) < 0) return -1;
    int pfd = open_parent_in_root(c, buf, &name);
    if (pfd < 0) return -1;
    int r = mknodat(pfd, name, (unsigned int)s->a, (unsigned long)s->b);
    /* mknod honours the umask; device nodes get exactly the planned mode. */
    if (r == 0) r = fchmodat(pfd, name, (unsigned int)s->a & 07777, 0);
    int e = errno;
    close(pfd);
    errno = e;
    return r;
  }
  case OP_LOOPBACK_UP:
    return loopback_up();
  case OP_OPEN_FD:
    return do_open_fd(s);
  case OP_SET_NAME:
    return prctl(PR_SET_NAME, s->s1, 0, 0, 0);
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
  ctx_init(&c, steps, n);
  for (long i = 0; i < n; i++) {
    if (run_step(&c, &steps[i]) < 0) {
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
  ctx_init(&c, steps, n);
  *first_fail = -1;
  for (long i = 0; i < n; i++) {
    if (run_step(&c, &steps[i]) < 0) {
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

/* ---- child side ---- */

/* A failure, for the caller: it reads it once the kernel has cleared this
 * process's word at its exit (memory is shared until then). */
static void report(struct sbx_spawn *sp, long step, int err) {
  sp->fail_step = step;
  sp->fail_errno = err;
}

static void set_all_signals(unsigned long *mask) { *mask = ~0UL; }

/* poll(2) on one descriptor. */
static int poll_one(int fd, short events, int timeout_ms) {
  struct {
    int fd;
    short events, revents;
  } pfd;
  pfd.fd = fd;
  pfd.events = events;
  pfd.revents = 0;
  return poll(&pfd, 1, timeout_ms);
}

/* Starts a thread with every signal blocked (they stay with the caller's
 * threads); the caller's own mask is left as it was. Returns pthread_create's
 * result. */
static int start_thread(unsigned long *tid, void *(*fn)(void *), void *arg) {
  unsigned long all, old;
  set_all_signals(&all);
  rawsys(SYS_rt_sigprocmask, 2, (long)&all, (long)&old, 8);
  int r = pthread_create(tid, 0, fn, arg);
  rawsys(SYS_rt_sigprocmask, 2, (long)&old, 0, 8);
  return r;
}

static void close_pipe(int p[2]) {
  close(p[0]);
  close(p[1]);
}

/* The spawning thread waits on a word of shared memory per child process,
 * which the kernel sets to the child's id at clone (CLONE_PARENT_SETTID) and
 * clears, with a futex wake, when the child execs or exits
 * (CLONE_CHILD_CLEARTID). Unlike the end of a pipe, no other process can
 * hold it open: sandboxes cloned at the same moment by other spawner threads
 * inherit every descriptor this process has, until they exec. */
static void wait_cleared(int *word) {
  for (;;) {
    int v = *(volatile int *)word;
    if (v == 0) return;
    rawsys(SYS_futex, (long)word, FUTEX_WAIT, v, 0);
  }
}

/* What the kernel does at exec or exit, done by a child that stays. */
static void release_caller(int *word) {
  *(volatile int *)word = 0;
  rawsys(SYS_futex, (long)word, FUTEX_WAKE, 1, 0);
}

static void reset_signal_dispositions(void) {
  /* The child inherited the caller's handlers, which point into the
   * caller's runtime: never let one run here. */
  unsigned long act[4];
  act[0] = 0; /* SIG_DFL */
  act[1] = 0;
  act[2] = 0;
  act[3] = 0;
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    rawsys(SYS_rt_sigaction, sig, (long)act, 0, 8);
  }
}

static int run_steps_from(struct ctx *c, struct sbx_spawn *sp, long from) {
  for (long i = from; i < sp->nsteps; i++) {
    struct sbx_step *s = &sp->steps[i];
    if (s->op == OP_FORK_COMMAND) return (int)i;
    if (s->op == OP_EXEC && sp->go_rfd >= 0) {
      /* Not one instruction of the command runs while the init still shares
       * the caller's memory or holds privileges: the steps above ran beside
       * its exec of sandboxlib-init, the command waits for it to close its
       * end of the pipe, once it has shed its privileges (or died). */
      char byte;
      while (read((int)sp->go_rfd, &byte, 1) != 0 && errno == EINTR) {
      }
      close((int)sp->go_rfd);
    }
    if (s->op == OP_EXEC) {
      /* Signals were blocked for the clone; the command starts with none. */
      unsigned long empty = 0;
      rawsys(SYS_rt_sigprocmask, 2 /* SIG_SETMASK */, (long)&empty, 0, 8);
    }
    if (run_step(c, s) < 0) {
      report(sp, i, errno);
      _exit(s->op == OP_EXEC ? 127 : 125);
    }
  }
  return -1;
}

static int command_main(void *arg) {
  struct sbx_spawn *sp = (struct sbx_spawn *)arg;
  struct ctx c;
  ctx_init(&c, sp->steps, sp->nsteps);
  c.gofd = (int)sp->go_rfd;
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (sp->go_wfd >= 0) close((int)sp->go_wfd);
  run_steps_from(&c, sp, sp->cmd_start);
  /* A plan always ends with OP_EXEC; reaching here is a planning bug. */
  report(sp, sp->nsteps, EINVAL);
  _exit(125);
  return 0;
}

struct timeval_lite {
  long sec;
  long usec;
};

struct rusage_lite {
  struct timeval_lite utime_tv;
  struct timeval_lite stime_tv;
  long maxrss;
  long rest[14];
};

/* The sandbox's init, when sandboxlib-init could not take over (init.c does
 * the same): reaps every orphan, and when the command exits kills what it
 * left behind and exits. As PID 1 of a PID namespace, it forwards signals
 * to the command and kill(-1) reaches all that is left; without one
 * (`parent`, the caller's pid, nonzero) it is a child subreaper that sweeps
 * its descendants (sweep.h), also when the caller dies. Raw syscalls only:
 * it runs beside the caller's thread. */
static void init_loop(struct sbx_spawn *sp, long cmd_pid, long parent) {
  unsigned long all;
  set_all_signals(&all);
  for (;;) {
    int info[32]; /* siginfo_t: si_signo, si_errno, si_code, pad, si_pid */
    long sig = rawsys(SYS_rt_sigtimedwait, (long)&all, (long)info, 0, 8);
    if (sig < 0) continue;
    /* Reparented, or the parent-death signal (sent as by the caller, which
     * never signals this init itself). */
    if (parent && (rawsys(SYS_getppid, 0, 0, 0, 0) != parent || (info[2] == SI_USER && info[4] == parent))) {
      sweep_descendants(cmd_pid);
      rawsys(SYS_exit_group, 0, 0, 0, 0);
    }
    if (sig != SIGCHLD) {
      /* A subreaper forwards nothing: the caller signals the command's
       * process group itself. */
      if (!parent) rawsys(SYS_kill, cmd_pid, sig, 0, 0);
      continue;
    }
    for (;;) {
      int status = 0;
      struct rusage_lite ru;
      long pid = rawsys(SYS_wait4, -1, (long)&status, WNOHANG, (long)&ru);
      if (pid == 0) break;
      if (pid < 0) {
        /* No child left: the command and everything it started are gone. */
        if (sp->cmd_status >= 0) rawsys(SYS_exit_group, 0, 0, 0, 0);
        break;
      }
      if (pid == cmd_pid) {
        sp->ru_utime_us = ru.utime_tv.sec * 1000000 + ru.utime_tv.usec;
        sp->ru_stime_us = ru.stime_tv.sec * 1000000 + ru.stime_tv.usec;
        sp->ru_maxrss_kb = ru.maxrss;
        sp->cmd_status = status;
        /* kill(-1) from PID 1 reaches every other process of the namespace;
         * without one it would reach the host. */
        if (!parent) {
          rawsys(SYS_kill, -1, SIGKILL, 0, 0);
          continue;
        }
        sweep_descendants(cmd_pid);
        rawsys(SYS_exit_group, 0, 0, 0, 0);
      }
    }
  }
}

/* Becomes sandboxlib-init (init.c): a program of its own, so that the init
 * living beside the command shares no memory with the caller. The caller
 * still waits for this exec (CLONE_CHILD_CLEARTID), so glibc is safe to use
 * here. Returns only when the exec failed; the caller then runs the init
 * loop in place. */
static void exec_init(struct sbx_spawn *sp, int cmd_pid, long parent) {
  int status = fcntl((int)sp->status_wfd, 1030 /* F_DUPFD_CLOEXEC */, 10);
  int self = fcntl((int)sp->init_fd, 1030, 10);
  int go = fcntl((int)sp->go_wfd, 1030, 10);
  if (status < 0 || self < 0 || go < 0) return;
  /* dup2 clears close-on-exec: these three cross the exec. */
  if (dup2(status, 3) < 0 || dup2(self, 4) < 0 || dup2(go, 5) < 0) return;
  /* 0-2 and everything above 5 go. */
  syscall(SYS_close_range, 0, 2, 0);
  syscall(SYS_close_range, 6, ~0U, 0);
  char pid[24], parent_pid[24];
  snprintf(pid, sizeof pid, "%d", cmd_pid);
  snprintf(parent_pid, sizeof parent_pid, "%ld", parent);
  char *argv[4];
  char *envp[1];
  argv[0] = "sandboxlib-init";
  argv[1] = pid;
  argv[2] = parent ? parent_pid : 0;
  argv[3] = 0;
  envp[0] = 0;
  syscall(SYS_execveat, 4, "", argv, envp, AT_EMPTY_PATH_FLAG);
}

/* Closes, from 3 up, every descriptor the plan does not name (the sources
 * of its dup2 steps, the descriptors it passes) and the spawn's own. The
 * child got a copy of the caller's whole table at clone, other sandboxes'
 * pipes included: kept until the exec, a capture pipe of another sandbox
 * would not reach EOF while this one is being set up. */
static int close_unplanned(struct ctx *c, struct sbx_spawn *sp) {
  int keep[63]; /* close_from keeps 63 besides the go pipe */
  long n = 0;
  long own[3];
  own[0] = sp->init_fd;
  own[1] = sp->status_wfd;
  own[2] = sp->parent_pidfd;
  for (int k = 0; k < 3; k++)
    if (own[k] >= 3) keep[n++] = (int)own[k];
  for (long i = 0; i < sp->nsteps; i++) {
    struct sbx_step *s = &sp->steps[i];
    if (s->op == OP_DUP2 && s->a >= 3) {
      if (n == 63) return 0; /* more than this: leave them to the exec */
      keep[n++] = (int)s->a;
    }
    if (s->op == OP_CLOSE_FROM)
      for (long j = 0; j < s->b; j++) {
        if (n == 63) return 0;
        keep[n++] = ((const int *)s->s1)[j];
      }
  }
  /* Ascending, as close_from wants them. */
  for (long i = 1; i < n; i++)
    for (long j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  return close_from(c, 3, keep, n);
}

static int sandbox_main(void *arg) {
  struct sbx_spawn *sp = (struct sbx_spawn *)arg;
  struct ctx c;
  ctx_init(&c, sp->steps, sp->nsteps);
  reset_signal_dispositions();
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  /* Best effort: the command's own close-from step is the guarantee. */
  close_unplanned(&c, sp);
  /* The init shares the caller's memory: without CAP_SYS_PTRACE nothing in
   * the sandbox may read or write it through /proc/1/mem or ptrace. This
   * marks the caller non-dumpable too (the flag belongs to the memory). */
  if (sp->clone_flags & CLONE_NEWPID) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* The caller may have died before PDEATHSIG was set: its pidfd is then
   * readable. (getppid() cannot tell: it is 0 in a new PID namespace.) */
  if (sp->parent_pidfd >= 0) {
    if (poll_one((int)sp->parent_pidfd, 1 /* POLLIN */, 0) > 0) _exit(125);
    close((int)sp->parent_pidfd);
  }
  int fork_at = run_steps_from(&c, sp, 0);
  if (fork_at < 0) {
    report(sp, sp->nsteps, EINVAL);
    _exit(125);
  }
  if (c.rootfd >= 0) close(c.rootfd);
  sp->cmd_start = fork_at + 1;
  /* Without a PID namespace (chroot backend) the init is a child subreaper,
   * so that whatever the command orphans becomes its child, and the
   * caller's death sends it a signal it waits for and sweeps on (SIGTERM)
   * instead of SIGKILL; the race with that death is checked after the
   * change. Both are set before the command exists, and survive the exec
   * of sandboxlib-init. */
  long parent = 0;
  if (!(sp->clone_flags & CLONE_NEWPID)) {
    parent = getppid();
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
    if (getppid() != parent) _exit(125);
  }
  char *stack2 = sp->stack + sp->stack_size / 2;
  int go[2] = {-1, -1};
  int separate = sp->init_fd >= 0 && sp->status_wfd >= 0 && pipe2(go, O_CLOEXEC) == 0;
  sp->go_rfd = go[0];
  sp->go_wfd = go[1];
  /* The command shares this memory until it execs. With sandboxlib-init,
   * it first waits for the init to exec and shed its privileges (go pipe,
   * closed by sandboxlib-init); otherwise CLONE_VFORK
   * holds the init until the command has exec'd. Either way the caller
   * waits for the command's exec too: the kernel clears sp->cmd_tid then. */
  int pid = clone(command_main, stack2, CLONE_VM | SIGCHLD | (separate ? 0 : CLONE_VFORK) | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID, sp,
                  &sp->cmd_tid, 0, &sp->cmd_tid);
  if (pid < 0) {
    report(sp, fork_at, errno);
    _exit(125);
  }
  sp->cmd_pid = pid;
  if (separate) {
    close(go[0]);
    exec_init(sp, pid, parent);
    /* The exec failed: the init stays here, and the command goes once every
     * copy of the go pipe's end is closed (the close_range below closes
     * any other). */
    close(go[1]);
    close(5);
  }
  /* The init keeps nothing of the caller's: its descriptors are a copy of
   * the caller's table (host files, sockets), reachable through /proc/1/fd. */
  rawsys(SYS_close_range, 0, ~0U, 0, 0);
  /* Set up, and staying in the caller's memory: let the caller go on. */
  release_caller(&sp->sandbox_tid);
  init_loop(sp, pid, parent);
  return 0;
}

/* Stacks of reaped sandboxes, kept for the next ones: a fresh mapping costs
 * the child page faults and its munmap a TLB shootdown on every CPU running
 * this process, both paid again for each sandbox of a batch. Only the thread
 * that calls sbx_take_stack and sbx_release (the JavaScript thread) touches
 * them. A stack is reused only once its sandbox process has been reaped:
 * with a PID namespace, the kernel reaps its init only after every other
 * process of the namespace is gone, the command process included. */
#define STACK_SIZE (256 * 1024)
#define SPARE_STACKS 64
static char *spare_stacks[SPARE_STACKS];
static long spare_count = 0;

/* Gives `sp` a stack (a spare one when there is one). Returns 0 or -errno. */
long sbx_take_stack(struct sbx_spawn *sp) {
  sp->stack_size = STACK_SIZE;
  if (spare_count > 0) {
    sp->stack = spare_stacks[--spare_count];
    return 0;
  }
  sp->stack = mmap(0, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (sp->stack == (char *)-1) {
    sp->stack = 0;
    return -(long)errno;
  }
  return 0;
}

/* Clones the sandbox process and waits until its command has exec'd or its
 * setup has failed. Returns the child's pid (or -errno when clone failed);
 * a failure inside the child is reported in sp->fail_step / sp->fail_errno. */
long sbx_spawn(struct sbx_spawn *sp) {
  sp->fail_step = -1;
  sp->fail_errno = 0;
  sp->cmd_status = -1;
  sp->cmd_pid = 0;
  sp->sandbox_tid = 0;
  sp->cmd_tid = 0;
  if (!sp->stack) {
    long got = sbx_take_stack(sp);
    if (got < 0) return got;
  }
  sp->status_rfd = -1;
  sp->status_wfd = -1;
  sp->go_rfd = -1;
  sp->go_wfd = -1;
  if (sp->init_fd >= 0) {
    int q[2];
    if (pipe2(q, O_CLOEXEC | 04000 /* O_NONBLOCK */) < 0) return -(long)errno;
    sp->status_rfd = q[0];
    sp->status_wfd = q[1];
  }
  sp->parent_pidfd = syscall(SYS_pidfd_open, getpid(), 0);
  unsigned long all, old;
  set_all_signals(&all);
  rawsys(SYS_rt_sigprocmask, 2, (long)&all, (long)&old, 8);
  int pid = clone(sandbox_main, sp->stack + sp->stack_size, (int)(sp->clone_flags | CLONE_VM | SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID), sp,
                  &sp->sandbox_tid, 0, &sp->sandbox_tid);
  long clone_err = pid < 0 ? errno : 0;
  if (sp->status_wfd >= 0) close((int)sp->status_wfd);
  if (sp->parent_pidfd >= 0) close((int)sp->parent_pidfd);
  if (pid > 0) {
    /* The sandbox process has exec'd sandboxlib-init (or the command), gone
     * into its init loop, or exited; by then it has cloned the command
     * process, if it got that far, whose word is set. A failure is in
     * sp->fail_step / fail_errno. */
    wait_cleared(&sp->sandbox_tid);
    wait_cleared(&sp->cmd_tid);
  }
  rawsys(SYS_rt_sigprocmask, 2, (long)&old, 0, 8);
  return pid < 0 ? -clone_err : pid;
}

/* ---- spawning off the caller's thread ----
 *
 * A sandbox's set-up (namespaces, mounts, exec) takes about a millisecond,
 * during which sbx_spawn blocks its thread. sbx_spawn_async hands the spawn
 * to a spawner thread instead, so that the caller (the JavaScript thread)
 * plans and reports other sandboxes meanwhile, and several set-ups run at
 * once. Spawner threads never exit: PR_SET_PDEATHSIG fires when the thread
 * that spawned a child dies, so a spawner must live as long as the process.
 * They block every signal, which stay with the caller's threads. */

/* Spawner threads come in pools, one per bounding set asked for: a pool's
 * threads narrow their own bounding set once, at start, and every sandbox
 * cloned by them inherits it. Dropped in each sandbox instead, the same
 * capabilities cost two copies of its credentials each (command and init),
 * some 80 per sandbox. A pool serves only spawns whose capabilities its
 * bounding set holds: the sandbox's own capabilities step still drops what
 * it must, and finds the rest already gone. */
struct spawner_pool {
  unsigned long bounding_set;
  int jobs[2]; /* queued spawns (struct sbx_spawn pointers) */
  long threads;
};
#define MAX_POOLS 8
static struct spawner_pool pools[MAX_POOLS];
static long pool_count = 0;
/* One wake-up pipe for every spawn of the process: a spawner writes a byte
 * after each spawn it finishes, and the caller, woken, looks at which of its
 * spawns have cleared their async_pending word. A pipe per spawn cost the
 * caller a pipe, a stream and their teardown for every sandbox. The write
 * end does not block: a full pipe wakes the reader as well. */
static int spawn_wake[2] = {-1, -1};

static void *spawner_main(void *arg) {
  struct spawner_pool *pool = (struct spawner_pool *)arg;
  /* Best effort: without CAP_SETPCAP each sandbox drops its own. */
  narrow_bounding_set(pool->bounding_set);
  for (;;) {
    struct sbx_spawn *sp = 0;
    if (read(pool->jobs[0], &sp, sizeof sp) != (long)sizeof sp) continue;
    sp->async_result = sbx_spawn(sp);
    /* The word first, then the byte: a caller woken by the byte finds the
     * word cleared. */
    release_caller(&sp->async_pending);
    char wake = 1;
    while (write(spawn_wake[1], &wake, 1) < 0 && errno == EINTR) {
    }
  }
  return 0;
}

/* More set-ups at once than this gain nothing; spawns beyond it wait in the
 * queue for a thread of their pool. */
#define MAX_SPAWNERS 64

/* The pool whose threads keep `bounding_set`. Past MAX_POOLS - 1 sets, the
 * rest share the last pool, which keeps every capability. NULL (errno set)
 * when a pool's job pipe cannot be made. */
static struct spawner_pool *pool_for(unsigned long bounding_set) {
  for (long i = 0; i < pool_count; i++)
    if (pools[i].bounding_set == bounding_set) return &pools[i];
  unsigned long wanted = pool_count < MAX_POOLS - 1 ? bounding_set : ~0UL;
  for (long i = 0; i < pool_count; i++)
    if (pools[i].bounding_set == wanted) return &pools[i];
  struct spawner_pool *pool = &pools[pool_count];
  if (pipe2(pool->jobs, O_CLOEXEC) < 0) return 0;
  pool->bounding_set = wanted;
  pool->threads = 0;
  pool_count++;
  return pool;
}

/* Makes sure the pool for `bounding_set` has `n` spawner threads (at most
 * MAX_SPAWNERS), so that each spawn in flight has one. Called from one
 * thread only, which must hold every capability of `bounding_set` in its
 * own (threads inherit it). Returns how many threads the pool has, or
 * -errno when it has none and none could start. */
long sbx_spawners(long n, long bounding_set) {
  if (spawn_wake[0] < 0) {
    if (pipe2(spawn_wake, O_CLOEXEC) < 0) return -(long)errno;
    fcntl(spawn_wake[1], F_SETFL, 04000 /* O_NONBLOCK */);
  }
  struct spawner_pool *pool = pool_for((unsigned long)bounding_set);
  if (!pool) return -(long)errno;
  while (pool->threads < n && pool->threads < MAX_SPAWNERS) {
    unsigned long tid;
    int r = start_thread(&tid, spawner_main, pool);
    if (r != 0) return pool->threads > 0 ? pool->threads : -(long)r;
    pthread_detach(tid);
    pool->threads++;
  }
  return pool->threads;
}

/* The read end of the wake-up pipe (valid once sbx_spawners succeeded). */
long sbx_spawn_wake_fd(void) {
  return spawn_wake[0];
}

/* Blocks until the spawner thread is done with `sp` (when the wake-up pipe
 * cannot be awaited). */
void sbx_await_spawn(struct sbx_spawn *sp) {
  wait_cleared(&sp->async_pending);
}

/* Queues `sp` for a thread of the pool for sp->bounding_set (see
 * sbx_spawners, called first with the same set), which runs sbx_spawn (give
 * `sp` its stack first, with sbx_take_stack, from the caller's thread),
 * stores its result in sp->async_result, clears sp->async_pending and writes
 * a byte to the wake-up pipe. `sp` and what it points to must stay alive
 * until then. Returns 0 or -errno. */
long sbx_spawn_async(struct sbx_spawn *sp) {
  struct spawner_pool *pool = pool_for((unsigned long)sp->bounding_set);
  if (!pool || pool->threads == 0) return -(long)(pool ? EAGAIN : errno);
  sp->async_pending = 1;
  if (write(pool->jobs[1], &sp, sizeof sp) != (long)sizeof sp) {
    sp->async_pending = 0;
    return -(long)errno;
  }
  return 0;
}

/* Once the sandbox process has been reaped: takes the command's status from
 * sandboxlib-init's pipe, when that init ran. The pipe is non-blocking: a
 * call before the init wrote finds nothing and changes nothing. */
void sbx_collect(struct sbx_spawn *sp) {
  if (sp->status_rfd >= 0) {
    long record[4];
    long got = 0, n;
    for (;;) {
      n = read((int)sp->status_rfd, ((char *)record) + got, sizeof record - (size_t)got);
      if (n > 0 && (got += n) < (long)sizeof record) continue;
      break;
    }
    if (got == (long)sizeof record && sp->cmd_status < 0) {
      sp->cmd_status = record[0];
      sp->ru_utime_us = record[1];
      sp->ru_stime_us = record[2];
      sp->ru_maxrss_kb = record[3];
    }
    /* Done once the record is in, or the init is gone without one (EOF). */
    if (got == (long)sizeof record || n == 0) {
      close((int)sp->status_rfd);
      sp->status_rfd = -1;
    }
  }
}

/* Frees what a spawn holds, once the sandbox process has been reaped. */
void sbx_release(struct sbx_spawn *sp) {
  sbx_collect(sp);
  if (sp->status_rfd >= 0) close((int)sp->status_rfd);
  sp->status_rfd = -1;
  if (sp->stack && spare_count < SPARE_STACKS && sp->stack_size == STACK_SIZE)
    spare_stacks[spare_count++] = sp->stack;
  else if (sp->stack)
    munmap(sp->stack, (size_t)sp->stack_size);
  sp->stack = 0;
}

/* Non-blocking wait for one child, with its resource usage. */
long sbx_wait(long pid, int *status, long *ru_out) {
  struct rusage_lite ru;
  long r = rawsys(SYS_wait4, pid, (long)status, WNOHANG, (long)&ru);
  if (r > 0) {
    ru_out[0] = ru.utime_tv.sec * 1000000 + ru.utime_tv.usec;
    ru_out[1] = ru.stime_tv.sec * 1000000 + ru.stime_tv.usec;
    ru_out[2] = ru.maxrss;
  }
  return r;
}

#define ONES 0x0101010101010101UL
#define HIGHS 0x8080808080808080UL

/* Whether any byte of `w` needs escaping: below 0x20, '"' or '\\'. Exact
 * (the "has a byte less than n" and "has a zero byte" bit tricks). */
static unsigned long needs_escape(unsigned long w) {
  unsigned long quote = w ^ (ONES * '"');
  unsigned long backslash = w ^ (ONES * '\\');
  return ((w - ONES * 0x20) & ~w & HIGHS) | ((quote - ONES) & ~quote & HIGHS) | ((backslash - ONES) & ~backslash & HIGHS);
}

/* The body of a JSON string for UTF-8 bytes, byte for byte as JSON.stringify
 * writes it (", \ and control characters escaped; everything else as it is).
 * --json and batch pass captured output through here, gigabytes at times:
 * eight bytes at a time while none needs escaping. `out` has room for 6
 * bytes per input byte; returns the bytes written. Unaligned 8-byte loads and
 * stores: x86_64 and aarch64 allow them (built with -fno-strict-aliasing). */
static unsigned char *escape_byte(unsigned char b, unsigned char *o) {
  static const char hex[] = "0123456789abcdef";
  o[0] = '\\';
  switch (b) {
  case '"': o[1] = '"'; return o + 2;
  case '\\': o[1] = '\\'; return o + 2;
  case '\b': o[1] = 'b'; return o + 2;
  case '\t': o[1] = 't'; return o + 2;
  case '\n': o[1] = 'n'; return o + 2;
  case '\f': o[1] = 'f'; return o + 2;
  case '\r': o[1] = 'r'; return o + 2;
  default:
    o[1] = 'u';
    o[2] = '0';
    o[3] = '0';
    o[4] = (unsigned char)hex[b >> 4];
    o[5] = (unsigned char)hex[b & 15];
    return o + 6;
  }
}

#define SAFE(b) ((b) >= 0x20 && (b) != '"' && (b) != '\\')

long sbx_json_escape(const unsigned char *src, long n, unsigned char *out) {
  unsigned char *o = out;
  long i = 0;
  while (i < n) {
    /* Text: whole words while none of their bytes needs escaping. */
    while (i + 8 <= n) {
      unsigned long w = *(const unsigned long *)(src + i);
      if (needs_escape(w)) break;
      *(unsigned long *)o = w;
      o += 8;
      i += 8;
    }
    /* Then byte by byte up to the next byte that needs escaping, and through
     * the run of those (NULs of binary output, say) without word checks. */
    while (i < n && SAFE(src[i])) {
      *o++ = src[i++];
      if (i + 8 <= n && (i & 7) == 0) break;
    }
    while (i < n && !SAFE(src[i])) o = escape_byte(src[i++], o);
  }
  return (long)(o - out);
}

/* ---- escaped output, escaping and writing side by side ----
 *
 * --json of a big output writes its escaped form: 6 GiB for 1 GiB of NULs.
 * Escaping a chunk while a writer thread writes the one before takes the
 * longer of the two instead of both. The two buffers pass between the
 * threads as tokens on pipes. */

struct escaped_writer {
  int fd;
  unsigned char *buf[2];
  long len[2];
  int filled[2]; /* caller -> writer: index of a filled buffer; -1 ends */
  int emptied[2]; /* writer -> caller: index of a buffer written */
  long err;      /* the first write error, as -errno */
};

/* Writes all of `p`; returns 0 or -errno (EAGAIN waits for room). */
static long write_fully(int fd, const unsigned char *p, long n) {
  while (n > 0) {
    long w = write(fd, p, (size_t)n);
    if (w > 0) {
      p += w;
      n -= w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      poll_one(fd, 4 /* POLLOUT */, -1);
      continue;
    }
    return w < 0 ? -(long)errno : -EPIPE;
  }
  return 0;
}

static void *escaped_writer_main(void *arg) {
  struct escaped_writer *ew = (struct escaped_writer *)arg;
  for (;;) {
    int which;
    if (read(ew->filled[0], &which, sizeof which) != (long)sizeof which) {
      if (errno == EINTR) continue;
      return 0;
    }
    if (which < 0) return 0;
    /* After an error, buffers still come back so that the caller finishes. */
    if (ew->err == 0) ew->err = write_fully(ew->fd, ew->buf[which], ew->len[which]);
    while (write(ew->emptied[1], &which, sizeof which) < 0 && errno == EINTR) {
    }
  }
}

/* Writes the JSON-escaped form of `src` (sbx_json_escape) to `fd`, `chunk`
 * input bytes at a time; `scratch` has room for 12 * chunk bytes (two
 * escaped chunks), or 6 * chunk when n <= chunk. Returns 0, or -errno of the first failed write. For one
 * chunk, or without a writer thread (none could start), it escapes and
 * writes in turn. */
long sbx_write_escaped(long fd, const unsigned char *src, long n, unsigned char *scratch, long chunk) {
  struct escaped_writer ew;
  ew.fd = (int)fd;
  ew.buf[0] = scratch;
  ew.buf[1] = scratch + 6 * chunk;
  ew.err = 0;
  unsigned long tid = 0;
  /* One chunk or less: nothing to overlap. */
  int threaded = n > chunk && pipe2(ew.filled, O_CLOEXEC) == 0;
  if (threaded && pipe2(ew.emptied, O_CLOEXEC) != 0) {
    close_pipe(ew.filled);
    threaded = 0;
  }
  if (threaded && start_thread(&tid, escaped_writer_main, &ew) != 0) {
    close_pipe(ew.filled);
    close_pipe(ew.emptied);
    threaded = 0;
  }
  long err = 0;
  int busy[2] = {0, 0};
  int which = 0;
  for (long off = 0; off < n && err == 0; off += chunk) {
    if (busy[which]) {
      int back;
      long got;
      while ((got = read(ew.emptied[0], &back, sizeof back)) < 0 && errno == EINTR) {
      }
      if (got != (long)sizeof back) {
        err = got < 0 ? -(long)errno : -EPIPE;
        break;
      }
      busy[back] = 0;
      err = ew.err;
      if (err) break;
    }
    long len = n - off < chunk ? n - off : chunk;
    ew.len[which] = sbx_json_escape(src + off, len, ew.buf[which]);
    if (!threaded) {
      err = write_fully(ew.fd, ew.buf[which], ew.len[which]);
      continue;
    }
    busy[which] = 1;
    while (write(ew.filled[1], &which, sizeof which) < 0 && errno == EINTR) {
    }
    which ^= 1;
  }
  if (threaded) {
    int end = -1;
    while (write(ew.filled[1], &end, sizeof end) < 0 && errno == EINTR) {
    }
    pthread_join(tid, 0);
    if (err == 0) err = ew.err;
    close_pipe(ew.filled);
    close_pipe(ew.emptied);
  }
  return err;
}
