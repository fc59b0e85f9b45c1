/*
 * sandboxlib-init: the init of a sandbox, as a program of its own: PID 1 of
 * the linux backend's PID namespace, or a child subreaper in the host's PID
 * namespace for the chroot backend.
 *
 * The sandbox process starts sharing sandboxlib's memory (it is cloned with
 * CLONE_VM, so that no copy of the Bun heap is made). Once it has started the
 * command, it execs this tiny static program, so that the init that lives on
 * beside the command no longer shares anything with sandboxlib. Built by
 * build.ts (cc -static -nostdlib) and embedded; freestanding: raw system
 * calls, no C library; the kernel's headers give the numbers.
 *
 *   argv[1]  the command process's pid (in this PID namespace)
 *   argv[2]  chroot backend: sandboxlib's pid (this init's parent); else 0
 *   argv[3]  the command's process group, when it has one of its own; else 0
 *   fd 3     where the command's wait status and usage go, at the end
 *   fd 4     this program's own memfd (closed at once)
 *   fd 5     the command waits for its end: closed once privileges are shed
 *   fd 6     the handover pipe (non-blocking): the command's own pid
 *   fd 7     the release pipe: the command waits for its end to exec
 *
 * The command process does not exec the command itself: it shares
 * sandboxlib's memory until it execs, and the kernel would credit the
 * command with that memory's peak (ru_maxrss keeps the peak of every memory
 * a process had). It execs this program as sandboxlib-exec, the launcher
 * (see launch() below), which starts the command as a child of this init
 * from its own few pages, says its pid (fd 6) and exits. Once this init has
 * reaped the launcher, it releases the command (closes fd 7): the launcher
 * no longer counts in the command's --pids limit, nor shows in its /proc.
 *
 * As PID 1 it forwards every signal it receives to the command. It reaps
 * every orphan, and when the command exits kills what is left, writes the
 * status and exits.
 * All signals arrive blocked (the mask survives execve), none is lost.
 *
 * As PID 1, kill(-1) reaches every other process of the namespace. Without
 * a PID namespace (chroot backend), kill(-1) would reach the host: it is a
 * child subreaper instead (made one before its exec, which keeps it), and
 * sweeps its descendants found in /proc (sweep.h) when the command exits and
 * when sandboxlib dies; its parent-death signal is then one it waits for
 * (SIGTERM), not SIGKILL. It keeps only CAP_KILL and is not dumpable, as
 * PID 1 is, but a root command in the host's PID namespace (it has
 * CAP_KILL) can still signal it: killed, sandboxlib sweeps what it can name
 * itself (src/supervise/leftovers.ts); stopped, it holds sandboxlib up, as
 * stopping sandboxlib itself would.
 */

#include <asm/siginfo.h>
#include <asm/signal.h>
#include <asm/unistd.h>
#include <linux/capability.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/prctl.h>
#include <linux/resource.h>
#include <linux/sched.h>
#include <linux/wait.h>

#if defined(__x86_64__)
/* Five arguments, the fifth always 0: prctl checks the unused ones. */
static long sys(long n, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = 0;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}
__asm__(".text\n.global _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call init_main\n  hlt\n");
#elif defined(__aarch64__)
static long sys(long n, long a, long b, long c, long d) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = 0;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}
__asm__(".text\n.global _start\n_start:\n  mov x0, sp\n  bl init_main\n  b .\n");
#else
#error "sandboxlib-init supports x86_64 and aarch64"
#endif

#include "sweep.h"
#include "layout.h"

static long number(const char *p) {
  long n = 0;
  for (; p && *p >= '0' && *p <= '9'; p++) n = n * 10 + (*p - '0');
  return n;
}

/* ---- the launcher: sandboxlib-exec ----
 *
 * Run by the command process in place of the command, with the command's
 * credentials, namespaces and seccomp filter already in force (the plan's
 * last steps ran before). argv: LAUNCH_ARG_* (layout.h), then the command's
 * argv; envp: the command's. It clones the command (CLONE_PARENT: a child of
 * the init, as the command process was), writes its pid to the init
 * (handover pipe) and to sandboxlib (launch pipe), and exits. The command
 * waits for the init to release it, then execs; -errno follows on the launch
 * pipe when that failed. */

static long slen(const char *p) {
  long n = 0;
  while (p[n]) n++;
  return n;
}

static int has_slash(const char *p) {
  for (; *p; p++)
    if (*p == '/') return 1;
  return 0;
}

/* execvpe with a given search path, as steps.c's do_exec (which sandboxlib's
 * own restart runs, in its thread), without the C library: returns -errno. */
static long exec_search(const char *file, const char *path, char **argv, char **envp) {
  if (!path || has_slash(file)) return sys(__NR_execve, (long)file, (long)argv, (long)envp, 0);
  char buf[4096];
  long flen = slen(file);
  long err = -ENOENT;
  int saw_eacces = 0;
  const char *p = path;
  for (;;) {
    const char *q = p;
    while (*q && *q != ':') q++;
    long dlen = q - p;
    if (dlen == 0) {
      buf[0] = '.';
      dlen = 1;
    } else if (dlen < (long)sizeof buf) {
      for (long i = 0; i < dlen; i++) buf[i] = p[i];
    }
    if (dlen + 1 + flen < (long)sizeof buf) {
      buf[dlen] = '/';
      for (long i = 0; i <= flen; i++) buf[dlen + 1 + i] = file[i];
      err = sys(__NR_execve, (long)buf, (long)argv, (long)envp, 0);
      if (err == -EACCES) {
        saw_eacces = 1;
      } else if (err != -ENOENT && err != -ENOTDIR) {
        return err;
      }
    }
    if (!*q) break;
    p = q + 1;
  }
  return saw_eacces ? -EACCES : -ENOENT;
}

static void put_long(long fd, long value) {
  sys(__NR_write, fd, (long)&value, sizeof value, 0);
}

static void launch(char **argv, char **envp) {
  long out = number(argv[LAUNCH_ARG_LAUNCH_FD]);
  long handover = number(argv[LAUNCH_ARG_HANDOVER_FD]);
  /* "-1" when the command need not wait for the init's release. */
  long release = argv[LAUNCH_ARG_RELEASE_FD][0] == '-' ? -1 : number(argv[LAUNCH_ARG_RELEASE_FD]);
  long setup_fail = number(argv[LAUNCH_ARG_SETUP_FAIL_STATUS]);
  long exec_fail = number(argv[LAUNCH_ARG_EXEC_FAIL_STATUS]);
  const char *file = argv[LAUNCH_ARG_FILE];
  const char *path = argv[LAUNCH_ARG_HAS_SEARCH_PATH][0] == '1' ? argv[LAUNCH_ARG_SEARCH_PATH] : 0;
  /* The command waits for a byte here, written once this process has said
   * its pid and let go of both pipes: the command (which may signal this
   * process, stop it) never runs while it holds them. */
  int ready[2];
  if (sys(__NR_pipe2, (long)ready, O_CLOEXEC, 0, 0) < 0) sys(__NR_exit_group, setup_fail, 0, 0, 0);
  /* Not dumpable, so that nothing can take over its pipes through
   * /proc/<pid>/fd: a launch pipe held open would keep sandboxlib waiting.
   * The command's exec makes it dumpable again. */
  sys(__NR_prctl, PR_SET_DUMPABLE, 0, 0, 0);
  /* Open in the command until its exec, not after. */
  sys(__NR_fcntl, out, F_SETFD, FD_CLOEXEC, 0);
  sys(__NR_fcntl, handover, F_SETFD, FD_CLOEXEC, 0);
  if (release >= 0) sys(__NR_fcntl, release, F_SETFD, FD_CLOEXEC, 0);
  long init = sys(__NR_getppid, 0, 0, 0, 0);
  long pid = sys(__NR_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0);
  if (pid == 0) {
    /* As the command process was: killed with the init. */
    sys(__NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0);
    sys(__NR_close, handover, 0, 0, 0);
    sys(__NR_close, ready[1], 0, 0, 0);
    if (sys(__NR_getppid, 0, 0, 0, 0) != init) sys(__NR_exit_group, setup_fail, 0, 0, 0);
    char byte;
    long got;
    while ((got = sys(__NR_read, ready[0], (long)&byte, 1, 0)) == -EINTR) {
    }
    if (got != 1) sys(__NR_exit_group, setup_fail, 0, 0, 0); /* the launcher died before it said the pid */
    /* Under a process limit (--pids, an nproc rlimit), the launcher counts
     * until the init reaps it: the command waits for that (the init closes
     * the release pipe then). */
    while (release >= 0 && sys(__NR_read, release, (long)&byte, 1, 0) == -EINTR) {
    }
    put_long(out, exec_search(file, path, argv + LAUNCH_ARGC, envp));
    sys(__NR_exit_group, exec_fail, 0, 0, 0);
  }
  if (pid < 0) {
    put_long(out, pid);
    sys(__NR_exit_group, setup_fail, 0, 0, 0);
  }
  /* The init first: it must know the command when it reaps this process. */
  put_long(handover, pid);
  put_long(out, pid);
  sys(__NR_close, handover, 0, 0, 0);
  sys(__NR_close, out, 0, 0, 0);
  char go = 1;
  sys(__NR_write, ready[1], (long)&go, 1, 0);
  sys(__NR_exit_group, 0, 0, 0, 0);
}

/* ---- the init ----
 *
 * While the launcher runs ("launching"), the init reaps only the launcher:
 * the command may end before the launcher has said its pid, and must not be
 * reaped unknown. The launcher says it before it exits. */

/* Reads the command's pid from the handover pipe once it is there (the
 * launcher writes it before it exits); EOF means none will come. */
static void take_handover(long *cmd, int *launching) {
  long pid = 0;
  long n = sys(__NR_read, 6, (long)&pid, sizeof pid, 0);
  if (n == (long)sizeof pid && pid > 0) {
    *cmd = pid;
  } else if (n == -EAGAIN || n == -EINTR) {
    return; /* not yet */
  }
  /* The pid, or EOF (every write end is gone without one), or no pipe. */
  *launching = 0;
  sys(__NR_close, 6, 0, 0, 0);
}

static void drop_privileges(void) {
  /* Nothing in the sandbox may take this process over: it may only signal. */
  sys(__NR_prctl, PR_SET_DUMPABLE, 0, 0, 0);
  /* Only those still there: a drop copies the credentials, a reading does
   * not, and a spawner thread of sandboxlib may have dropped most already. */
  for (long cap = 0; cap < 64; cap++) {
    long present = sys(__NR_prctl, PR_CAPBSET_READ, cap, 0, 0);
    if (present == -EINVAL) break; /* past the kernel's last capability */
    /* A reading that fails otherwise counts as present. */
    if (present != 0 && cap != CAP_KILL) sys(__NR_prctl, PR_CAPBSET_DROP, cap, 0, 0);
  }
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{1u << CAP_KILL, 1u << CAP_KILL, 0}};
  sys(__NR_capset, (long)&header, (long)data, 0, 0);
  sys(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0);
}

/* Whether sandboxlib is gone: this process was reparented, or got the
 * parent-death signal (sandboxlib's spawning thread died; sandboxlib itself
 * never signals this init). */
static int parent_gone(long parent, const siginfo_t *info) {
  return sys(__NR_getppid, 0, 0, 0, 0) != parent || (info->si_code == SI_USER && info->si_pid == parent);
}

/* Subreaper mode: everything below is killed and reaped, the status (when
 * there is one) written, and this init exits. */
static void sweep_and_exit(long group, long *record) {
  sweep_descendants(group);
  if (record[0] >= 0) sys(__NR_write, 3, (long)record, 4 * sizeof(long), 0);
  sys(__NR_exit_group, 0, 0, 0, 0);
}

__attribute__((used)) void init_main(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  const char *name = LAUNCHER_NAME;
  int is_launcher = argc > LAUNCH_ARGC;
  for (long i = 0; is_launcher && (i == 0 || name[i - 1]); i++) is_launcher = argv[0][i] == name[i];
  if (is_launcher) launch(argv, envp);
  /* The command process; its pid names the command's process group too,
   * when it made a session. The command itself, once handed over: */
  long leader = number(argv[1]);
  long cmd = leader;
  int launching = 1;
  long parent = argv[1] ? number(argv[2]) : 0; /* sandboxlib's pid: subreaper mode */
  long group = argv[1] && argv[2] ? number(argv[3]) : 0;
  long record[4] = {-1, 0, 0, 0};
  sys(__NR_close, 4, 0, 0, 0);
  drop_privileges();
  if (parent) {
    /* Set before the exec as well (sandbox.c), where SIGKILL gave way to
     * SIGTERM; set again here, past any change of credentials, and the
     * race with sandboxlib's death checked after it. */
    sys(__NR_prctl, PR_SET_PDEATHSIG, SIGTERM, 0, 0);
    if (sys(__NR_getppid, 0, 0, 0, 0) != parent) sweep_and_exit(group, record);
  }
  sys(__NR_close, 5, 0, 0, 0); /* the command may start */
  unsigned long all = ~0UL;
  for (;;) {
    siginfo_t info;
    long sig = sys(__NR_rt_sigtimedwait, (long)&all, (long)&info, 0, 8);
    if (sig < 0) continue;
    if (launching) take_handover(&cmd, &launching);
    if (parent && parent_gone(parent, &info)) sweep_and_exit(group, record);
    if (sig != SIGCHLD) {
      /* As a subreaper, it forwards nothing: sandboxlib signals the
       * command's process group itself, and a terminal's SIGINT reaches
       * this init (in sandboxlib's process group) as well as sandboxlib. */
      if (!parent) sys(__NR_kill, cmd, sig, 0, 0);
      continue;
    }
    for (;;) {
      int status = 0;
      struct rusage ru;
      long pid = sys(__NR_wait4, launching ? leader : -1, (long)&status, WNOHANG, (long)&ru);
      if (pid == 0) break;
      if (pid < 0) {
        /* No child left: the command and all it started are gone. */
        if (record[0] >= 0) {
          sys(__NR_write, 3, (long)record, sizeof record, 0);
          sys(__NR_exit_group, 0, 0, 0, 0);
        }
        break;
      }
      if (launching) take_handover(&cmd, &launching);
      if (pid == leader && cmd != leader) {
        /* The launcher, reaped: the command may exec. */
        sys(__NR_close, 7, 0, 0, 0);
        continue;
      }
      if (pid == cmd) {
        launching = 0; /* a launcher that never said a pid: its own status */
        record[0] = status;
        record[1] = ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
        record[2] = ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
        record[3] = ru.ru_maxrss;
        if (parent) sweep_and_exit(group, record);
        sys(__NR_kill, -1, SIGKILL, 0, 0);
      }
    }
  }
}
