// Safe tar extraction, as root would do it: ownership, modes, times, hard
// links, symlinks and device nodes restored, and nothing ever written outside
// the destination. An entry that would leave it (`..`, an absolute name, a
// write through a symlink an earlier entry planted, a hard link to a path
// outside) fails the whole extraction with a message naming the entry.
//
// The destination is a private directory that only this process writes, so
// checking each parent with lstat before writing is race-free here.
import { chmodSync, linkSync, lchownSync, lstatSync, lutimesSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { posix } from "node:path";
import type { Readable } from "node:stream";
import { configError } from "../base/errors.ts";
import { mknod } from "../native/libc.ts";

export interface ExtractOptions {
  /** Apply OCI layer whiteouts (.wh.NAME and .wh..wh..opq). */
  layer?: boolean;
  /** Stops the extraction (SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** What the archive is, for messages. */
  label: string;
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** "./a/b/" -> "a/b"; "" for the archive's root; throws for names that leave it. */
export function entryPath(name: string, label: string): string {
  if (name.startsWith("/")) throw configError(`${label}: unsafe entry ${JSON.stringify(name)}: absolute path`);
  const parts = name.split("/");
  if (parts.includes("..")) throw configError(`${label}: unsafe entry ${JSON.stringify(name)}: '..' in path`);
  return posix.normalize(`/${name}`).slice(1).replace(/\/+$/, "");
}

class Destination {
  /** Directories known to be real directories (not symlinks) below the root. */
  private readonly checked = new Set<string>([""]);
  /** Paths this layer created (an opaque whiteout keeps them). */
  readonly createdInLayer = new Set<string>();

  constructor(
    readonly root: string,
    private readonly label: string,
  ) {}

  abs(rel: string): string {
    return rel === "" ? this.root : `${this.root}/${rel}`;
  }

  /** Makes sure every parent of `rel` is a real directory, creating missing ones. */
  parents(rel: string, entry: string): void {
    const parts = rel.split("/");
    let at = "";
    for (const part of parts.slice(0, -1)) {
      at = at ? `${at}/${part}` : part;
      if (this.checked.has(at)) continue;
      const st = lstatOrNull(this.abs(at));
      if (st === null) mkdirSync(this.abs(at), { mode: 0o755 });
      else if (st.isSymbolicLink()) throw configError(`${this.label}: unsafe entry ${JSON.stringify(entry)}: ${at} is a symlink (refusing to write through it)`);
      else if (!st.isDirectory()) throw configError(`${this.label}: unsafe entry ${JSON.stringify(entry)}: ${at} is not a directory`);
      this.checked.add(at);
    }
  }

  /** Removes whatever is at `rel` (and below it). */
  remove(rel: string): void {
    rmSync(this.abs(rel), { recursive: true, force: true });
    for (const p of this.checked) if (p === rel || p.startsWith(`${rel}/`)) this.checked.delete(p);
  }

  /** Clears `rel` for a new entry; an existing directory stays for a directory entry. */
  replace(rel: string, isDir: boolean): void {
    const st = lstatOrNull(this.abs(rel));
    if (st === null || (isDir && st.isDirectory())) return;
    this.remove(rel);
  }
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

async function writeFile(path: string, mode: number, content: Readable): Promise<void> {
  const { open } = await import("node:fs/promises");
  // "wx": the path was cleared just before; never follow or reuse anything.
  const handle = await open(path, "wx", mode & 0o7777);
  try {
    for await (const chunk of content) await handle.write(chunk as Buffer);
  } finally {
    await handle.close();
  }
}

function applyWhiteout(dest: Destination, rel: string): boolean {
  const base = posix.basename(rel);
  if (!base.startsWith(WHITEOUT)) return false;
  const dir = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
  if (base === OPAQUE) {
    // Hide what lower layers put in the directory, keep what this layer did.
    const abs = dest.abs(dir);
    for (const child of lstatOrNull(abs)?.isDirectory() ? readdirSync(abs) : []) {
      const childRel = dir ? `${dir}/${child}` : child;
      if (!dest.createdInLayer.has(childRel)) dest.remove(childRel);
    }
  } else {
    dest.remove(dir ? `${dir}/${base.slice(WHITEOUT.length)}` : base.slice(WHITEOUT.length));
  }
  return true;
}

/** Extracts the tar stream `input` into the directory `root` (which exists). */
export async function extractTar(input: Readable, root: string, options: ExtractOptions): Promise<void> {
  const dest = new Destination(root, options.label);
  // Loaded here, not at start-up: only images need it.
  const tar = (await import("tar-stream")).default;
  const extract = tar.extract();
  input.on("error", (e) => extract.destroy(e));
  input.pipe(extract);
  try {
    for await (const entry of extract) {
      if (options.signal?.aborted) throw options.signal.reason;
      const h = entry.header;
      const rel = entryPath(h.name, options.label);
      if (rel !== "") dest.parents(rel, h.name);
      if (options.layer && rel !== "" && applyWhiteout(dest, rel)) {
        entry.resume();
        continue;
      }
      const path = dest.abs(rel);
      const mode = (h.mode ?? 0o644) & 0o7777;
      switch (h.type) {
        case "directory":
          dest.replace(rel, true);
          if (!lstatOrNull(path)) mkdirSync(path, { mode: 0o700 });
          break;
        case "file":
        case "contiguous-file":
          if (rel === "") throw configError(`${options.label}: unsafe entry ${JSON.stringify(h.name)}: not a directory`);
          dest.replace(rel, false);
          await writeFile(path, mode, entry as unknown as Readable);
          break;
        case "symlink":
          dest.replace(rel, false);
          symlinkSync(h.linkname ?? "", path);
          break;
        case "link": {
          const target = entryPath(h.linkname ?? "", options.label);
          if (target === "") throw configError(`${options.label}: unsafe entry ${JSON.stringify(h.name)}: hard link to the root`);
          dest.parents(target, h.linkname ?? "");
          if (!lstatOrNull(dest.abs(target))) throw configError(`${options.label}: entry ${JSON.stringify(h.name)}: hard link target ${JSON.stringify(h.linkname)} does not exist`);
          dest.replace(rel, false);
          linkSync(dest.abs(target), path);
          break;
        }
        case "character-device":
        case "block-device":
        case "fifo": {
          dest.replace(rel, false);
          const kind = h.type === "fifo" ? S_IFIFO : h.type === "block-device" ? S_IFBLK : S_IFCHR;
          mknod(path, kind | mode, h.devmajor ?? 0, h.devminor ?? 0);
          break;
        }
        default:
          entry.resume(); // pax and GNU headers are read by tar-stream itself
          continue;
      }
      if (options.layer) dest.createdInLayer.add(rel);
      entry.resume();
      // A hard link shares its target's inode: its own header must not
      // overwrite the target's owner, mode or times (tar does the same).
      if (h.type === "link") continue;
      // Ownership first: chown clears set-id bits, which the chmod restores.
      lchownSync(path, h.uid ?? 0, h.gid ?? 0);
      if (h.type !== "symlink") chmodSync(path, mode);
      if (h.mtime) lutimesSync(path, h.mtime, h.mtime);
    }
  } catch (e) {
    extract.destroy();
    input.destroy();
    throw e;
  }
}
