// The descriptors sandboxlib inherited from its caller: the only ones that
// `--pass-fd` and `--status-fd` may name. Everything else open in this
// process is sandboxlib's own (Bun's epoll and eventfd, our pipes, memfds,
// pidfds), and handing one of those to a sandboxed command lets it corrupt
// or steer sandboxlib (issue 13, item 4).
//
// The table is read once, when this module is evaluated: src/main.ts imports
// it first, before any module of ours opens a descriptor. Bun itself has
// opened its event loop's epoll and eventfd by then, and it marks every
// inherited descriptor from 4 up close-on-exec at start-up, so the
// close-on-exec flag tells nothing; what Bun opens before any JavaScript runs
// is anonymous (anon_inode:[eventpoll], anon_inode:[eventfd]), so anonymous
// descriptors found here count as Bun's. A caller's own epoll, eventfd,
// timerfd or signalfd therefore cannot be passed: there is no telling it
// from Bun's.
//
// Reading the table costs about 0.2 ms, so it is read only when the command
// line can name a descriptor at all: --pass-fd, --status-fd, a config file
// or a batch. Otherwise every descriptor counts as not inherited (fail
// closed), which nothing then asks about.
import { nodeFs } from "../native/node-fs.ts";

/** Inherited descriptors, ascending; null when /proc/self/fd could not be read. */
function snapshot(): number[] | null {
  const { readdirSync, readlinkSync } = nodeFs();
  let names: string[];
  try {
    names = readdirSync("/proc/self/fd");
  } catch {
    return null;
  }
  const fds: number[] = [];
  for (const name of names) {
    const fd = Number(name);
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // the directory's own descriptor, closed since
    }
    if (!target.startsWith("anon_inode:")) fds.push(fd);
  }
  return fds.sort((a, b) => a - b);
}

/** Can this command line name a descriptor to hand over? (Options after `--` only cost a needless read.) */
export function mayNameDescriptors(argv: readonly string[]): boolean {
  return argv[0] === "batch" || argv.some((a) => a.startsWith("--pass-fd") || a.startsWith("--status-fd") || a.startsWith("--config") || a === "--jobserver");
}

const inherited: number[] | null = mayNameDescriptors(process.argv.slice(2)) ? snapshot() : [];

/** Why `fd` may not be handed to a command, or null when it may (it was inherited). */
export function notInheritedReason(fd: number): string | null {
  if (inherited === null) return "cannot tell which descriptors were inherited: /proc/self/fd cannot be read";
  return inherited.includes(fd) ? null : "not a descriptor inherited from the caller";
}

/** The descriptors inherited from the caller, as first seen. */
export function inheritedFds(): readonly number[] {
  return inherited ?? [0, 1, 2];
}
