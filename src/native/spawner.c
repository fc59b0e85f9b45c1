/*
 * Spawning sandboxes: cloning the sandbox process (sandbox.c) and waiting
 * for it, spawner thread pools, the wake-up pipe, stacks, and the command's
 * status as sandboxlib-init records it.
 */
#include "sbx.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* sigprocmask with the kernel's 8-byte mask: raw, so that glibc's own
 * signals are blocked too while a child shares this thread's memory. */
static void set_mask(const unsigned long *mask, unsigned long *old) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, mask, old, 8);
}

int sbx_poll_one(int fd, short events, int timeout_ms) {
  struct pollfd pfd = {.fd = fd, .events = events};
  return poll(&pfd, 1, timeout_ms);
}

int sbx_start_thread(unsigned long *tid, void *(*fn)(void *), void *arg) {
  unsigned long all = ~0UL, old;
  set_mask(&all, &old);
  pthread_t t;
  int r = pthread_create(&t, NULL, fn, arg);
  set_mask(&old, NULL);
  *tid = (unsigned long)t;
  return r;
}

/* The spawning thread waits on a word of shared memory per child process,
 * which the kernel sets to the child's id at clone (CLONE_PARENT_SETTID) and
 * clears, with a futex wake, when the child execs or exits
 * (CLONE_CHILD_CLEARTID). Unlike the end of a pipe, no other process can
 * hold it open: sandboxes cloned at the same moment by other spawner threads
 * inherit every descriptor this process has, until they exec. */
static void wait_cleared(int32_t *word) {
  for (;;) {
    int32_t v = *(volatile int32_t *)word;
    if (v == 0) return;
    syscall(SYS_futex, word, FUTEX_WAIT, v, NULL);
  }
}

void sbx_release_word(int32_t *word) {
  *(volatile int32_t *)word = 0;
  syscall(SYS_futex, word, FUTEX_WAKE, 1);
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
  sp->stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (sp->stack == MAP_FAILED) {
    sp->stack = NULL;
    return -(long)errno;
  }
  return 0;
}

/* What the launcher (init.c) reports, until EOF: the command's pid, then a
 * failure's -errno when its exec failed; or -errno alone when it could not
 * start the command. EOF comes at the command's exec (the last write end is
 * close-on-exec there), or when the command process died before it. */
static void read_launch(struct sbx_spawn *sp) {
  int64_t msg[2];
  ssize_t got = 0, n;
  while (got < (ssize_t)sizeof msg && ((n = read((int)sp->launch_rfd, (char *)msg + got, sizeof msg - (size_t)got)) > 0 || (n < 0 && errno == EINTR)))
    if (n > 0) got += n;
  long count = got / (long)sizeof msg[0];
  /* No pid and no errno: the launcher died before it started the command
   * (a signal), which then gave up. */
  int64_t failure = -ESRCH;
  if (count >= 1 && msg[0] > 0) {
    sp->exec_pid = msg[0];
    failure = count == 2 && msg[1] < 0 ? msg[1] : 0;
  } else if (count >= 1 && msg[0] < 0) {
    failure = msg[0];
  }
  if (failure == 0) return;
  /* The plan's exec step: its last. */
  sp->fail_step = sp->nsteps - 1;
  sp->fail_errno = -failure;
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
  sp->launch_rfd = -1;
  sp->launch_wfd = -1;
  sp->handover_rfd = -1;
  sp->handover_wfd = -1;
  sp->release_rfd = -1;
  sp->release_wfd = -1;
  sp->exec_pid = 0;
  if (sp->init_fd >= 0) {
    int q[2], l[2];
    if (pipe2(q, O_CLOEXEC | O_NONBLOCK) < 0) return -(long)errno;
    if (pipe2(l, O_CLOEXEC) < 0) {
      long err = errno;
      close(q[0]);
      close(q[1]);
      return -err;
    }
    sp->status_rfd = q[0];
    sp->status_wfd = q[1];
    sp->launch_rfd = l[0];
    sp->launch_wfd = l[1];
  }
  sp->parent_pidfd = syscall(SYS_pidfd_open, getpid(), 0);
  unsigned long all = ~0UL, old;
  set_mask(&all, &old);
  int pid = clone(sbx_sandbox_main, sp->stack + sp->stack_size, (int)(sp->clone_flags | CLONE_VM | SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID), sp,
                  &sp->sandbox_tid, NULL, &sp->sandbox_tid);
  long clone_err = pid < 0 ? errno : 0;
  if (sp->status_wfd >= 0) close((int)sp->status_wfd);
  if (sp->launch_wfd >= 0) close((int)sp->launch_wfd);
  if (sp->parent_pidfd >= 0) close((int)sp->parent_pidfd);
  if (pid > 0) {
    /* The sandbox process has exec'd sandboxlib-init (or the command), or
     * exited; by then it has cloned the command process, if it got that
     * far, whose word is set. A failure is in sp->fail_step / fail_errno. */
    wait_cleared(&sp->sandbox_tid);
    wait_cleared(&sp->cmd_tid);
    if (sp->launch_rfd >= 0 && sp->fail_step < 0) read_launch(sp);
  }
  if (sp->launch_rfd >= 0) {
    close((int)sp->launch_rfd);
    sp->launch_rfd = -1;
  }
  set_mask(&old, NULL);
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
  uint64_t bounding_set;
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
  struct spawner_pool *pool = arg;
  /* Best effort: without CAP_SETPCAP each sandbox drops its own. */
  sbx_narrow_bounding_set(pool->bounding_set);
  for (;;) {
    struct sbx_spawn *sp = NULL;
    if (read(pool->jobs[0], &sp, sizeof sp) != (ssize_t)sizeof sp) continue;
    sp->async_result = sbx_spawn(sp);
    /* The word first, then the byte: a caller woken by the byte finds the
     * word cleared. */
    sbx_release_word(&sp->async_pending);
    char wake = 1;
    while (write(spawn_wake[1], &wake, 1) < 0 && errno == EINTR) {
    }
  }
  return NULL;
}

/* More set-ups at once than this gain nothing; spawns beyond it wait in the
 * queue for a thread of their pool. */
#define MAX_SPAWNERS 64

/* The pool whose threads keep `bounding_set`. Past MAX_POOLS - 1 sets, the
 * rest share the last pool, which keeps every capability. NULL (errno set)
 * when a pool's job pipe cannot be made. */
static struct spawner_pool *pool_for(uint64_t bounding_set) {
  for (long i = 0; i < pool_count; i++)
    if (pools[i].bounding_set == bounding_set) return &pools[i];
  uint64_t wanted = pool_count < MAX_POOLS - 1 ? bounding_set : ~UINT64_C(0);
  for (long i = 0; i < pool_count; i++)
    if (pools[i].bounding_set == wanted) return &pools[i];
  struct spawner_pool *pool = &pools[pool_count];
  if (pipe2(pool->jobs, O_CLOEXEC) < 0) return NULL;
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
    fcntl(spawn_wake[1], F_SETFL, O_NONBLOCK);
  }
  struct spawner_pool *pool = pool_for((uint64_t)bounding_set);
  if (!pool) return -(long)errno;
  while (pool->threads < n && pool->threads < MAX_SPAWNERS) {
    unsigned long tid;
    int r = sbx_start_thread(&tid, spawner_main, pool);
    if (r != 0) return pool->threads > 0 ? pool->threads : -(long)r;
    pthread_detach((pthread_t)tid);
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
  struct spawner_pool *pool = pool_for(sp->bounding_set);
  if (!pool || pool->threads == 0) return -(long)(pool ? EAGAIN : errno);
  sp->async_pending = 1;
  if (write(pool->jobs[1], &sp, sizeof sp) != (ssize_t)sizeof sp) {
    sp->async_pending = 0;
    return -(long)errno;
  }
  return 0;
}

/* Once the sandbox process has been reaped: takes the command's status from
 * sandboxlib-init's pipe. The pipe is non-blocking: a call before the init
 * wrote finds nothing and changes nothing. */
void sbx_collect(struct sbx_spawn *sp) {
  if (sp->status_rfd < 0) return;
  int64_t record[4]; /* init.c: status, user and system time (us), max RSS (KiB) */
  ssize_t got = 0, n;
  for (;;) {
    n = read((int)sp->status_rfd, ((char *)record) + got, sizeof record - (size_t)got);
    if (n > 0 && (got += n) < (ssize_t)sizeof record) continue;
    break;
  }
  if (got == (ssize_t)sizeof record && sp->cmd_status < 0) {
    sp->cmd_status = record[0];
    sp->ru_utime_us = record[1];
    sp->ru_stime_us = record[2];
    sp->ru_maxrss_kb = record[3];
  }
  /* Done once the record is in, or the init is gone without one (EOF). */
  if (got == (ssize_t)sizeof record || n == 0) {
    close((int)sp->status_rfd);
    sp->status_rfd = -1;
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
  sp->stack = NULL;
}

/* Blocks this thread until one of `fds` is readable (the runtime's event
 * loop descriptors), a signal arrives, or `timeout_ms` passes. Every signal
 * is let in meanwhile, as the runtime does while it waits: a caller may have
 * started this process with some blocked, which only the runtime's own wait
 * opens. Returns ppoll(2)'s result or -errno. */
long sbx_idle(const int32_t *fds, long nfds, long timeout_ms) {
  struct pollfd pfds[8];
  if (nfds > 8) nfds = 8;
  for (long i = 0; i < nfds; i++) pfds[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
  struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000};
  sigset_t none;
  sigemptyset(&none);
  int r = ppoll(pfds, (nfds_t)nfds, &ts, &none);
  return r < 0 ? -(long)errno : r;
}

/* Non-blocking wait for one child, with its resource usage. */
long sbx_wait(long pid, int *status, int64_t *ru_out) {
  struct rusage ru;
  long r = wait4((pid_t)pid, status, WNOHANG, &ru);
  if (r > 0) {
    ru_out[0] = (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
    ru_out[1] = (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    ru_out[2] = ru.ru_maxrss;
  }
  return r;
}
