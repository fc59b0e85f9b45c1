/*
 * The sweep of a sandbox init that is not PID 1 of a PID namespace (the
 * chroot backend's). Such an init is a child subreaper, so every orphan of
 * the command's tree becomes its child; the processes still below a live
 * parent are found in /proc by their chain of parents. It must therefore
 * see the host's /proc: it stays in the host's root (only the command is
 * chrooted).
 *
 * Part of init.c (sandboxlib-init), which includes it after its headers and
 * its sys(n, a, b, c, d), a raw system call returning -errno.
 */

/* The parent and start time (clock ticks since boot) of /proc/<pid>, read
 * through `procfd`. Returns 0, or -1 when the process is gone. */
static int sweep_stat(long procfd, long pid, long *ppid, unsigned long *start) {
  char path[32];
  char digits[24];
  int n = 0, k = 0;
  do {
    digits[n++] = (char)('0' + pid % 10);
    pid /= 10;
  } while (pid > 0);
  while (n > 0) path[k++] = digits[--n];
  path[k++] = '/';
  path[k++] = 's';
  path[k++] = 't';
  path[k++] = 'a';
  path[k++] = 't';
  path[k] = 0;
  long fd = sys(__NR_openat, procfd, (long)path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* Up to field 22 fits: a 15-byte name, then numbers. */
  char buf[512];
  long len = sys(__NR_read, fd, (long)buf, sizeof buf - 1, 0);
  sys(__NR_close, fd, 0, 0, 0);
  if (len <= 0) return -1;
  buf[len] = 0;
  /* "pid (name) state ppid ...": the name may hold spaces and ')', so the
   * fields are counted from its last ')'. */
  long at = -1;
  for (long i = 0; i < len; i++)
    if (buf[i] == ')') at = i;
  if (at < 0) return -1;
  long field = 2;
  unsigned long value = 0;
  int in_field = 0;
  for (long i = at + 1; i <= len; i++) {
    char ch = buf[i];
    if (ch == ' ' || ch == '\n' || ch == 0) {
      if (in_field && field == 4) *ppid = (long)value;
      if (in_field && field == 22) {
        *start = value;
        return 0;
      }
      in_field = 0;
      continue;
    }
    if (!in_field) {
      in_field = 1;
      field++;
      value = 0;
    }
    if (ch >= '0' && ch <= '9') value = value * 10 + (unsigned long)(ch - '0');
  }
  return -1;
}

/* Whether `pid` is below `self`: its chain of parents reaches `self` before
 * a process older than `self` (no descendant started before it). */
static int sweep_is_below(long procfd, long pid, long self, unsigned long self_start) {
  for (int depth = 0; depth < 4096; depth++) {
    long ppid = 0;
    unsigned long start = 0;
    if (sweep_stat(procfd, pid, &ppid, &start) < 0 || start < self_start) return 0;
    if (ppid == self) return 1;
    if (ppid <= 1) return 0;
    pid = ppid;
  }
  return 0;
}

struct sweep_dirent {
  unsigned long ino;
  long off;
  unsigned short reclen;
  unsigned char type;
  char name[1];
};

/* SIGKILLs every process below this one; returns how many it found, or -1
 * when /proc cannot be read. */
static long sweep_kill_round(void) {
  long self = sys(__NR_getpid, 0, 0, 0, 0);
  long procfd = sys(__NR_openat, AT_FDCWD, (long)"/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (procfd < 0) return -1;
  long self_parent = 0;
  unsigned long self_start = 0;
  if (sweep_stat(procfd, self, &self_parent, &self_start) < 0) {
    sys(__NR_close, procfd, 0, 0, 0);
    return -1;
  }
  long found = 0;
  long buf[512]; /* linux_dirent64 records, 8-byte aligned */
  for (;;) {
    long n = sys(__NR_getdents64, procfd, (long)buf, sizeof buf, 0);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct sweep_dirent *d = (struct sweep_dirent *)((char *)buf + off);
      off += d->reclen;
      const char *p = d->name;
      long pid = 0;
      if (*p < '0' || *p > '9') continue;
      for (; *p >= '0' && *p <= '9'; p++) pid = pid * 10 + (*p - '0');
      if (*p || pid == self) continue;
      if (sweep_is_below(procfd, pid, self, self_start)) {
        sys(__NR_kill, pid, SIGKILL, 0, 0);
        found++;
      }
    }
  }
  sys(__NR_close, procfd, 0, 0, 0);
  return found;
}

/*
 * Kills every descendant of this process and reaps every child, returning
 * once none is left. A process killed cannot fork any more; its children
 * become this subreaper's, and the next round finds them. Without /proc,
 * the command's process group (`group`, 0 when it has none of its own) is
 * all that can still be named.
 */
static void sweep_descendants(long group) {
  int status;
  /* Most commands leave nothing: without a child there is no descendant,
   * and no need to read /proc. */
  for (;;) {
    long r = sys(__NR_wait4, -1, (long)&status, WNOHANG | __WALL, 0);
    if (r == -ECHILD) return;
    if (r <= 0) break;
  }
  for (;;) {
    long found = sweep_kill_round();
    if (found < 0) {
      if (group > 0) sys(__NR_kill, -group, SIGKILL, 0, 0);
      while (sys(__NR_wait4, -1, (long)&status, WNOHANG | __WALL, 0) > 0) {
      }
      return;
    }
    /* What was killed is waited for; with nothing found, a child the walk
     * cannot see must not hold this process forever. */
    long r = sys(__NR_wait4, -1, (long)&status, (found > 0 ? 0 : WNOHANG) | __WALL, 0);
    if (r <= 0) return;
  }
}
