// A recording fake of supervise/'s host (src/supervise/host.ts), as youki's
// TestHelperSyscall: it serves a scripted file tree, records every call that
// changes something (and the reads a test asks it to), and fails the calls
// it is told to fail. Nothing touches the real filesystem or processes.
import type { Host } from "../../src/supervise/host.ts";
import type { Presence, RootProbe } from "../../src/supervise/root-probe.ts";

const ERRNO: Record<string, number> = { ENOENT: 2, EACCES: 13, EBUSY: 16, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, ENOSPC: 28, EROFS: 30, ENOTEMPTY: 39, EPERM: 1 };

/** An error as node:fs throws it. */
export function fsError(code: string, call: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${call} '${path}'`), { code, errno: -(ERRNO[code] ?? 5), syscall: call, path });
}

type Op = "read" | "write" | "append" | "mkdir" | "rmdir" | "remove" | "list";

const parentOf = (path: string) => path.slice(0, path.lastIndexOf("/")) || "/";
const LOCK_NAMES: Record<number, string> = { 1: "LOCK_SH", 2: "LOCK_EX", 6: "LOCK_EX|LOCK_NB", 8: "LOCK_UN", 5: "LOCK_SH|LOCK_NB" };

export class FakeHost implements Host {
  readonly pid: number;
  readonly files = new Map<string, string>();
  readonly dirs = new Set<string>(["/"]);
  readonly links = new Map<string, string>();
  /** Processes that exist: kill(pid, 0) succeeds for them; SIGKILL ends them and takes them out of every cgroup.procs. */
  readonly alive = new Set<number>();
  /** What changed, in order: "mkdir /a", "write /a/b 5", "kill 12 9", "flock 3 LOCK_SH", ... */
  readonly calls: string[] = [];
  /** Record reads and listings too. */
  recordReads = false;
  /** Called after a directory is made (a cgroup's control files appear with it). */
  onMkdir: (path: string) => void = () => {};
  /** A process holding the root's lock: a non-blocking exclusive flock fails. */
  otherRunHoldsRoot = false;
  /** Presence of paths in the sandbox root as the root probe sees them (canonical, relative). */
  rootPaths = new Map<string, "dir" | "file" | "empty-file">();
  private failures: { op: Op; path: string; code: string; times: number }[] = [];
  private nextFd = 10;

  constructor(tree: Record<string, string | null> = {}, pid = 4242) {
    this.pid = pid;
    for (const [path, content] of Object.entries(tree)) {
      if (content === null) this.addDir(path);
      else this.addFile(path, content);
    }
  }

  addDir(path: string): void {
    for (let p = path; p !== "/" && !this.dirs.has(p); p = parentOf(p)) this.dirs.add(p);
  }

  addFile(path: string, content: string): void {
    this.addDir(parentOf(path));
    this.files.set(path, content);
  }

  /** Makes the next `times` calls of `op` on `path` (or, ending in "*", on any path it begins) fail with `code`. */
  fail(op: Op, path: string, code: string, times = Number.POSITIVE_INFINITY): void {
    this.failures.push({ op, path, code, times });
  }

  private check(op: Op, path: string): void {
    const matches = (p: string) => p === path || (p.endsWith("*") && path.startsWith(p.slice(0, -1)));
    const f = this.failures.find((x) => x.op === op && matches(x.path) && x.times > 0);
    if (!f) return;
    f.times--;
    throw fsError(f.code, op, path);
  }

  readText(path: string): string {
    if (this.recordReads) this.calls.push(`read ${path}`);
    this.check("read", path);
    const content = this.files.get(path);
    if (content === undefined) throw fsError(this.dirs.has(path) ? "EISDIR" : "ENOENT", "open", path);
    return content;
  }

  writeText(path: string, text: string): void {
    this.calls.push(`write ${path} ${text}`);
    this.check("write", path);
    if (!this.dirs.has(parentOf(path))) throw fsError("ENOENT", "open", path);
    this.files.set(path, text);
  }

  appendText(path: string, text: string, mode: number): void {
    this.calls.push(`append ${path} 0${mode.toString(8)}`);
    this.check("append", path);
    if (!this.dirs.has(parentOf(path))) throw fsError("ENOENT", "open", path);
    this.files.set(path, (this.files.get(path) ?? "") + text);
  }

  mkdirs(path: string, mode?: number): void {
    this.calls.push(`mkdir ${path}${mode === undefined ? "" : ` 0${mode.toString(8)}`}`);
    this.check("mkdir", path);
    const made: string[] = [];
    for (let p = path; p !== "/" && !this.dirs.has(p); p = parentOf(p)) {
      if (this.files.has(p)) throw fsError("ENOTDIR", "mkdir", path);
      made.unshift(p);
    }
    for (const p of made) {
      this.dirs.add(p);
      this.onMkdir(p);
    }
  }

  /** rmdir as cgroupfs does it: its control files do not count, its processes and child groups do. */
  rmdir(path: string): void {
    this.calls.push(`rmdir ${path}`);
    this.check("rmdir", path);
    if (!this.dirs.has(path)) throw fsError("ENOENT", "rmdir", path);
    if ([...this.dirs].some((d) => d.startsWith(`${path}/`))) throw fsError("ENOTEMPTY", "rmdir", path);
    if ((this.files.get(`${path}/cgroup.procs`) ?? "").trim()) throw fsError("EBUSY", "rmdir", path);
    this.dirs.delete(path);
    for (const f of [...this.files.keys()]) if (f.startsWith(`${path}/`)) this.files.delete(f);
  }

  remove(path: string): void {
    this.calls.push(`remove ${path}`);
    this.check("remove", path);
    this.files.delete(path);
  }

  list(path: string): string[] {
    if (this.recordReads) this.calls.push(`list ${path}`);
    this.check("list", path);
    if (!this.dirs.has(path)) throw fsError("ENOENT", "scandir", path);
    const names = new Set<string>();
    for (const p of [...this.dirs, ...this.files.keys()]) if (p !== path && parentOf(p) === path) names.add(p.slice(path.length + 1));
    return [...names].sort();
  }

  readLink(path: string): string {
    const target = this.links.get(path);
    if (target === undefined) throw fsError("ENOENT", "readlink", path);
    return target;
  }

  exists(path: string): boolean {
    return this.dirs.has(path) || this.files.has(path);
  }

  stat(path: string): { dev: bigint; ino: bigint } | null {
    if (!this.exists(path)) return null;
    let ino = 0n;
    for (const c of path) ino = (ino * 31n + BigInt(c.charCodeAt(0))) % 1000003n;
    return { dev: 2049n, ino };
  }

  kill(pid: number, signal: number): boolean {
    if (signal !== 0) this.calls.push(`kill ${pid} ${signal}`);
    if (!this.alive.has(pid)) return false;
    if (signal === 9) {
      this.alive.delete(pid);
      for (const d of [...this.dirs]) if (d === `/proc/${pid}` || d.startsWith(`/proc/${pid}/`)) this.dirs.delete(d);
      for (const f of [...this.files.keys()]) if (f.startsWith(`/proc/${pid}/`)) this.files.delete(f);
      for (const l of [...this.links.keys()]) if (l.startsWith(`/proc/${pid}/`)) this.links.delete(l);
      for (const [path, text] of this.files) {
        if (path.endsWith("/cgroup.procs")) this.files.set(path, text.split("\n").filter((l) => l && Number(l) !== pid).map((l) => `${l}\n`).join(""));
      }
    }
    return true;
  }

  async sleep(ms: number): Promise<void> {
    this.calls.push(`sleep ${ms}`);
  }

  openDirectory(path: string): number {
    if (!this.dirs.has(path)) throw fsError("ENOENT", "open", path);
    const fd = this.nextFd++;
    this.calls.push(`open ${path} = ${fd}`);
    return fd;
  }

  flock(fd: number, operation: number): boolean {
    const name = LOCK_NAMES[operation] ?? String(operation);
    const refused = operation === 6 && this.otherRunHoldsRoot;
    this.calls.push(`flock ${fd} ${name}${refused ? " (would block)" : ""}`);
    return !refused;
  }

  close(fd: number): void {
    this.calls.push(`close ${fd}`);
  }

  probeRoot(_fd: number): RootProbe {
    return {
      presence: (path: string): Presence => {
        if (path === "") return "present";
        const parts = path.split("/");
        for (let i = 1; i < parts.length; i++) {
          const kind = this.rootPaths.get(parts.slice(0, i).join("/"));
          if (kind === undefined) return "missing";
          if (kind !== "dir") return "unreachable";
        }
        return this.rootPaths.has(path) ? "present" : "missing";
      },
      isEmptyFile: (path: string) => this.rootPaths.get(path) === "empty-file",
      danglingSymlink: () => null,
    };
  }
}
