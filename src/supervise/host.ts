// The host as supervise/ sees it: the few file, process and lock calls that
// cgroups.ts, mount-points.ts and leftovers.ts make, behind one narrow
// interface (as youki's Syscall trait). `realHost` makes them; the recording
// fake in test/helpers/fake-host.ts serves a scripted file tree instead, so
// that cgroup v1 and v2, the journal and the cleanup paths are tested
// without root (cgroup v2 where the host has v1).
//
// Errors are thrown as node:fs throws them: an Error with `code` ("EROFS")
// and a negative `errno`.
import { close, exists, flock, kill, O_RDONLY, open, stat } from "../native/libc.ts";
import { nodeFs } from "../native/node-fs.ts";
import { probeRoot, type RootProbe } from "./root-probe.ts";

const O_DIRECTORY = 0o200000;

export interface Host {
  /** This process's pid (names its cgroups and journal runs). */
  readonly pid: number;
  /** A file's text; throws when it cannot be read. */
  readText(path: string, encoding?: "utf8" | "latin1"): string;
  /** Writes (truncates) a file, as a cgroup control file is written. */
  writeText(path: string, text: string): void;
  /** Appends to a file, creating it with `mode`. */
  appendText(path: string, text: string, mode: number): void;
  /** mkdir -p, the directories made with `mode` (0o777 &~umask by default). */
  mkdirs(path: string, mode?: number): void;
  rmdir(path: string): void;
  /** rm -f. */
  remove(path: string): void;
  /** A directory's entry names. */
  list(path: string): string[];
  readLink(path: string): string;
  exists(path: string): boolean;
  /** st_dev and st_ino of `path`, or null when there is nothing there. */
  stat(path: string): { dev: bigint; ino: bigint } | null;
  /** kill(2); false when it failed (no such process). */
  kill(pid: number, signal: number): boolean;
  sleep(ms: number): Promise<void>;
  /** A read-only descriptor of a directory (to hold a lock on). */
  openDirectory(path: string): number;
  /** flock(2); false when a non-blocking request would block. */
  flock(fd: number, operation: number): boolean;
  close(fd: number): void;
  /** Looks at paths in the root open as `fd` the way plan steps resolve them (root-probe.ts). */
  probeRoot(fd: number): RootProbe;
}

export const realHost: Host = {
  pid: process.pid,
  readText: (path, encoding = "utf8") => nodeFs().readFileSync(path, encoding),
  writeText: (path, text) => nodeFs().writeFileSync(path, text),
  appendText: (path, text, mode) => nodeFs().appendFileSync(path, text, { mode }),
  mkdirs: (path, mode) => void nodeFs().mkdirSync(path, mode === undefined ? { recursive: true } : { recursive: true, mode }),
  rmdir: (path) => nodeFs().rmdirSync(path),
  remove: (path) => nodeFs().rmSync(path, { force: true }),
  list: (path) => nodeFs().readdirSync(path),
  readLink: (path) => nodeFs().readlinkSync(path),
  exists,
  stat,
  kill,
  sleep: (ms) => Bun.sleep(ms),
  openDirectory: (path) => open(path, O_RDONLY | O_DIRECTORY),
  flock,
  close,
  probeRoot,
};
