/*
 * The processes of a sandbox, cloned by spawner.c with CLONE_VM: they share
 * the caller's memory (no copy of the Bun heap is made) until they exec.
 *
 *  - the sandbox process runs the plan's steps up to OP_FORK_COMMAND, clones
 *    the command process, then execs sandboxlib-init (init.c), a program of
 *    its own, so that the init that lives on beside the command shares
 *    nothing with sandboxlib;
 *  - the command process runs the remaining steps, waits until that init
 *    has exec'd and shed its privileges (go pipe), and execs the command.
 *
 * Rules that keep them safe (see docs/design.md): no JavaScript and no
 * malloc here, only stack buffers; the spawning thread blocks in sbx_spawn()
 * until both have exec'd or exited (the kernel clears a word of shared
 * memory at each, CLONE_CHILD_CLEARTID), so glibc is safe to use: the
 * child's errno is the blocked thread's. Policy (exit statuses, which
 * descriptors stay, dumpable) comes with the spawn record, decided in
 * TypeScript (src/native/spawn-policy.ts).
 */
#include "sbx.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A failure, for the caller: it reads it once the kernel has cleared this
 * process's word at its exit (memory is shared until then). */
static void report(struct sbx_spawn *sp, long step, int err) {
  sp->fail_step = step;
  sp->fail_errno = err;
}

static void reset_signal_dispositions(void) {
  /* The child inherited the caller's handlers, which point into the
   * caller's runtime: never let one run here. The kernel's struct sigaction
   * (handler SIG_DFL, flags, restorer, mask), all zero; raw, so that glibc's
   * own signals are reset too. */
  unsigned long act[4] = {0, 0, 0, 0};
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, act, NULL, 8);
  }
}

/*
 * Execs the launcher (sandboxlib-init as sandboxlib-exec, init.c) in place of
 * the command: it starts the command as a process of its own, a child of the
 * init, and exits. Only a process forked from memory other than sandboxlib's
 * is credited with its own peak memory: an exec from shared memory credits
 * it with sandboxlib's (ru_maxrss keeps the peak of every memory a process
 * had). Returns only when the exec failed.
 */
static void exec_launcher(struct sbx_spawn *sp, struct sbx_step *s) {
  char num[5][24];
  long release = s->exec.after_launcher ? sp->release_rfd : -1;
  long values[5] = {sp->launch_wfd, sp->handover_wfd, release, sp->setup_fail_status, sp->exec_fail_status};
  char **argv = (char **)s->exec.launch_argv;
  for (int i = 0; i < 5; i++) {
    snprintf(num[i], sizeof num[i], "%ld", values[i]);
    argv[LAUNCH_ARG_LAUNCH_FD + i] = num[i];
  }
  /* These cross the exec; the launcher closes them in the command. */
  for (int i = 0; i < 3; i++)
    if (values[i] >= 0 && fcntl((int)values[i], F_SETFD, 0) < 0) return;
  execveat((int)sp->init_fd, "", argv, (char *const *)s->exec.envp, AT_EMPTY_PATH);
}

/* Runs the steps from `from` up to OP_FORK_COMMAND (returns its index) or
 * the end (-1); a failing step ends the process with the plan's status. */
static int run_steps_from(struct ctx *c, struct sbx_spawn *sp, long from) {
  struct sbx_step *steps = sp->steps;
  for (long i = from; i < sp->nsteps; i++) {
    struct sbx_step *s = &steps[i];
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
      syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, 8);
    }
    if (s->op == OP_EXEC && sp->release_rfd >= 0) {
      exec_launcher(sp, s);
      report(sp, i, errno);
      _exit(sp->exec_fail_status);
    }
    if (sbx_run_step(c, s) < 0) {
      report(sp, i, errno);
      _exit(s->op == OP_EXEC ? sp->exec_fail_status : sp->setup_fail_status);
    }
  }
  return -1;
}

static int command_main(void *arg) {
  struct sbx_spawn *sp = arg;
  struct ctx c;
  sbx_ctx_init(&c, sp->steps, sp->nsteps);
  long own[SBX_OWN_FDS] = {sp->go_rfd, sp->init_fd, sp->launch_wfd, sp->handover_wfd, sp->release_rfd};
  for (int i = 0; i < SBX_OWN_FDS; i++) c.own[i] = (int)own[i];
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  /* The init's ends. */
  close((int)sp->go_wfd);
  if (sp->handover_rfd >= 0) close((int)sp->handover_rfd);
  if (sp->release_wfd >= 0) close((int)sp->release_wfd);
  run_steps_from(&c, sp, sp->cmd_start);
  /* A plan always ends with OP_EXEC; reaching here is a planning bug. */
  report(sp, sp->nsteps, EINVAL);
  _exit(sp->setup_fail_status);
  return 0;
}

/* Becomes sandboxlib-init (init.c), with its status pipe as fd 3, its own
 * program as fd 4, the go pipe's write end as fd 5, the handover pipe's read
 * end as fd 6 (non-blocking) and the release pipe's write end as fd 7.
 * Returns only when that failed (errno set). */
static void exec_init(struct sbx_spawn *sp, int cmd_pid, long parent) {
  long from[5] = {sp->status_wfd, sp->init_fd, sp->go_wfd, sp->handover_rfd, sp->release_wfd};
  int moved[5];
  for (int i = 0; i < 5; i++)
    if ((moved[i] = fcntl((int)from[i], F_DUPFD_CLOEXEC, 10)) < 0) return;
  if (fcntl(moved[3], F_SETFL, O_NONBLOCK) < 0) return;
  /* dup2 clears close-on-exec: these cross the exec, as fds 3 to 7. */
  for (int i = 0; i < 5; i++)
    if (dup2(moved[i], 3 + i) < 0) return;
  /* 0-2 and everything above 7 go. */
  close_range(0, 2, 0);
  close_range(8, ~0U, 0);
  /* The command's process group, when the command process makes a session
   * (its pid then names it for as long as the command is in it), else 0. */
  int group = 0;
  for (long i = sp->cmd_start; i < sp->nsteps; i++)
    if (sp->steps[i].op == OP_SETSID) group = cmd_pid;
  char pid[24], parent_pid[24], group_id[24];
  snprintf(pid, sizeof pid, "%d", cmd_pid);
  snprintf(parent_pid, sizeof parent_pid, "%ld", parent);
  snprintf(group_id, sizeof group_id, "%d", group);
  char *argv[] = {"sandboxlib-init", pid, parent_pid, group_id, NULL};
  char *envp[] = {NULL};
  execveat(4, "", argv, envp, AT_EMPTY_PATH);
}

/* Closes, from 3 up, every descriptor but the plan's (sp->keep_fds: the
 * sources of its dup2 steps, the descriptors it passes) and the spawn's own.
 * The child got a copy of the caller's whole table at clone, other
 * sandboxes' pipes included: kept until the exec, a capture pipe of another
 * sandbox would not reach EOF while this one is being set up. Best effort:
 * the command's own close-from step is the guarantee. */
static void close_unplanned(struct ctx *c, struct sbx_spawn *sp) {
  int32_t keep[64];
  long own[4] = {sp->init_fd, sp->status_wfd, sp->parent_pidfd, sp->launch_wfd};
  if (sp->nkeep_fds > 60) return; /* more than this: leave them to the exec */
  long n = 0;
  for (long i = 0; i < sp->nkeep_fds; i++) keep[n++] = sp->keep_fds[i];
  for (int k = 0; k < 4; k++) {
    if (own[k] < 3) continue;
    /* Into its place: the list stays ascending. */
    long at = n++;
    for (; at > 0 && keep[at - 1] > own[k]; at--) keep[at] = keep[at - 1];
    keep[at] = (int32_t)own[k];
  }
  sbx_close_from(c, 3, keep, n);
}

int sbx_sandbox_main(void *arg) {
  struct sbx_spawn *sp = arg;
  struct ctx c;
  sbx_ctx_init(&c, sp->steps, sp->nsteps);
  reset_signal_dispositions();
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  close_unplanned(&c, sp);
  /* The plan's choice: without CAP_SYS_PTRACE nothing in the sandbox may
   * read or write this memory, the caller's, through /proc/<pid>/mem or
   * ptrace while it is shared. This marks the caller non-dumpable too (the
   * flag belongs to the memory). */
  if (sp->undumpable) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* The caller may have died before PDEATHSIG was set: its pidfd is then
   * readable. (getppid() cannot tell: it is 0 in a new PID namespace.) */
  if (sp->parent_pidfd >= 0) {
    if (sbx_poll_one((int)sp->parent_pidfd, POLLIN, 0) > 0) _exit(sp->setup_fail_status);
    close((int)sp->parent_pidfd);
  }
  int fork_at = run_steps_from(&c, sp, 0);
  if (fork_at < 0 || sp->init_fd < 0 || sp->status_wfd < 0 || sp->launch_wfd < 0) {
    report(sp, sp->nsteps, EINVAL);
    _exit(sp->setup_fail_status);
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
    if (getppid() != parent) _exit(sp->setup_fail_status);
  }
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0) {
    report(sp, fork_at, errno);
    _exit(sp->setup_fail_status);
  }
  sp->go_rfd = go[0];
  sp->go_wfd = go[1];
  /* The launcher's pipes with the init (sbx_spawn made the one to
   * sandboxlib): the command's pid, and the command's release. */
  int handover[2], release[2];
  if (pipe2(handover, O_CLOEXEC) < 0 || pipe2(release, O_CLOEXEC) < 0) {
    report(sp, fork_at, errno);
    _exit(sp->setup_fail_status);
  }
  sp->handover_rfd = handover[0];
  sp->handover_wfd = handover[1];
  sp->release_rfd = release[0];
  sp->release_wfd = release[1];
  /* The command shares this memory until it execs; it first waits for the
   * init to exec and shed its privileges (go pipe, closed by
   * sandboxlib-init). The caller waits for the command's exec too: the
   * kernel clears sp->cmd_tid then. */
  char *stack2 = sp->stack + sp->stack_size / 2;
  int pid = clone(command_main, stack2, CLONE_VM | SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID, sp, &sp->cmd_tid, NULL, &sp->cmd_tid);
  if (pid < 0) {
    report(sp, fork_at, errno);
    _exit(sp->setup_fail_status);
  }
  sp->cmd_pid = pid;
  close(go[0]);
  close(handover[1]);
  close(release[0]);
  exec_init(sp, pid, parent);
  /* The exec failed: the command, waiting on the go pipe, dies with this
   * process (its parent-death signal). */
  report(sp, fork_at, errno);
  _exit(sp->setup_fail_status);
  return 0;
}
