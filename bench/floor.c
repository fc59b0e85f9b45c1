/* The kernel's floor for a warm sandbox: the same isolation as the warm
 * variants (new mount, PID, IPC, UTS and network namespaces; private /; the
 * root bound, read-only; a new /proc; pivot_root; loopback up; an init that
 * forks and waits for /bin/true), created N times in a row from one process,
 * in C, with nothing else. Usage: floor ROOT N; prints the mean ms per sandbox.
 * Not sandboxlib: a reference for what its own per-sandbox cost is made of. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *root;

static void must(int ok, const char *what) {
  if (!ok) {
    perror(what);
    _exit(125);
  }
}

static int sandbox(void *arg) {
  (void)arg;
  must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "make / private");
  must(mount(root, root, NULL, MS_BIND | MS_REC, NULL) == 0, "bind the root");
  must(chdir(root) == 0, "chdir to the root");
  must(mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0, "mount proc");
  must(mount(NULL, ".", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0, "make the root read-only");
  must(syscall(SYS_pivot_root, ".", ".") == 0, "pivot_root");
  must(umount2(".", MNT_DETACH) == 0, "detach the old root");
  must(chdir("/") == 0, "chdir /");
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  must(s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0, "read lo's flags");
  ifr.ifr_flags |= IFF_UP;
  must(ioctl(s, SIOCSIFFLAGS, &ifr) == 0, "bring lo up");
  close(s);
  pid_t pid = fork();
  if (pid == 0) {
    char *argv[] = {"/bin/true", NULL};
    execve(argv[0], argv, NULL);
    _exit(127);
  }
  int status;
  must(pid > 0 && waitpid(pid, &status, 0) == pid, "wait for the command");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int main(int argc, char **argv) {
  if (argc != 3 || atoi(argv[2]) < 1) {
    fprintf(stderr, "usage: floor ROOT N\n");
    return 2;
  }
  root = argv[1];
  int n = atoi(argv[2]);
  static char stack[256 * 1024];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    pid_t pid = clone(sandbox, stack + sizeof stack, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | SIGCHLD, NULL);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "floor: sandbox %d failed\n", i);
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.4f\n", ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / n);
  return 0;
}
