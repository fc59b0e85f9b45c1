// --root as given: a directory, a tarball of a root filesystem (plain, gzip,
// xz, zstd, bzip2), an OCI image layout (directory or tar), a `docker save`
// archive, or an App Container image, detected by content. Images are
// unpacked into a private temporary directory removed by dispose(), or into
// --keep-root DIR, which is left for reuse.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { configError, SandboxError } from "../base/errors.ts";
import { writeText } from "../native/libc.ts";
import { aciDefaults, isAciLayout } from "./aci.ts";
import { looksLikeTar, openArchive, readHead, sniffCompression } from "./decompress.ts";
import { NO_DEFAULTS, type ImageDefaults } from "./defaults.ts";
import { extractTar } from "./extract.ts";
import { isDockerArchive, isOciLayout, unpackDockerArchive, unpackOci } from "./oci.ts";
import { progressBar } from "./progress.ts";

export type RootKind = "directory" | "tarball" | "oci" | "docker-archive" | "aci";

export interface PreparedRoot {
  /** The directory to use as filesystem_root. */
  root: string;
  kind: RootKind;
  defaults: ImageDefaults;
  /** Removes what was unpacked (not a --keep-root directory). Idempotent. */
  dispose(): void;
}

export interface PrepareOptions {
  /** Unpack here and leave it (must not exist, or be an empty directory). */
  keepRoot?: string | null;
  /** Which image of an index holding several. */
  imageRef?: string | null;
  signal?: AbortSignal;
  /** Where a warning goes (default: stderr). */
  warn?: (message: string) => void;
}

/** The reason of a failed file system call, as a person reads it ("read-only file system"). */
function reasonOf(e: unknown): string {
  if ((e as NodeJS.ErrnoException).code === "ENOENT") return "does not exist";
  return ((e as Error).message.split(",")[0] ?? String(e)).replace(/^E[A-Z]+: /, "");
}

/** keepTarget, with a directory that cannot be made (read-only, no space) a one-line error naming it. */
function keepRootTarget(keepRoot: string): string {
  try {
    return keepTarget(keepRoot);
  } catch (e) {
    if (e instanceof SandboxError) throw e;
    throw configError(`cannot unpack into --keep-root ${keepRoot}: ${reasonOf(e)}`);
  }
}

/** The staging directory beside a kept root (the final rename stays on one filesystem). */
function keepStaging(keep: string, keepRoot: string): string {
  try {
    return mkdtempSync(join(dirname(keep), ".sandboxlib-root-"));
  } catch (e) {
    throw configError(`cannot unpack into --keep-root ${keepRoot}: ${dirname(keep)}: ${reasonOf(e)}`);
  }
}

/**
 * Where an image may be unpacked, in order: SANDBOXLIB_TMPDIR, TMPDIR, /tmp,
 * /var/tmp, the directory holding the image. Containers and build hosts
 * often have a read-only or missing /tmp.
 */
export function scratchCandidates(env: Record<string, string | undefined>, image: string): { dir: string; from: string }[] {
  const out: { dir: string; from: string }[] = [];
  const add = (dir: string | undefined, from: string) => {
    if (dir && !out.some((c) => c.dir === dir)) out.push({ dir, from });
  };
  add(env.SANDBOXLIB_TMPDIR, "SANDBOXLIB_TMPDIR");
  add(env.TMPDIR, "TMPDIR");
  add("/tmp", "/tmp");
  add("/var/tmp", "/var/tmp");
  add(dirname(resolve(image)), "beside the image");
  return out;
}

/**
 * A fresh private directory in the first candidate where one can be made;
 * a warning when a directory the caller named could not be used, one line
 * naming every candidate and why when none could.
 */
function makeScratch(image: string, warn: (message: string) => void): string {
  const failed: string[] = [];
  for (const { dir, from } of scratchCandidates(process.env, image)) {
    try {
      const made = mkdtempSync(join(dir, ".sandboxlib-root-"));
      const named = failed.filter((f) => f.includes("_TMPDIR=") || f.startsWith("TMPDIR="));
      if (named.length) warn(`cannot unpack under ${named.join(", ")}; unpacking under ${dir}`);
      return made;
    } catch (e) {
      const reason = reasonOf(e);
      failed.push(from.startsWith("/") || from === "beside the image" ? `${dir} (${reason})` : `${from}=${dir} (${reason})`);
    }
  }
  throw configError(`cannot unpack ${basename(image)}: no writable directory for it: ${failed.join(", ")}; set SANDBOXLIB_TMPDIR to a writable directory, or unpack once with --keep-root DIR`);
}

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** A fresh directory for the final root: --keep-root, or none (use the staging area). */
function keepTarget(keepRoot: string): string {
  const target = resolve(keepRoot);
  const st = statOrNull(target);
  if (st && (!st.isDirectory() || readdirSync(target).length > 0)) throw configError(`--keep-root directory exists and is not empty: ${keepRoot}`);
  if (st) rmSync(target, { recursive: true });
  mkdirSync(dirname(target), { recursive: true });
  return target;
}

export async function prepareRoot(path: string, options: PrepareOptions = {}): Promise<PreparedRoot> {
  const st = statOrNull(path);
  if (!st) throw configError(`filesystem root does not exist: ${path}`);
  const imageRef = options.imageRef ?? null;
  if (st.isDirectory() && !isOciLayout(path)) {
    if (options.keepRoot) throw configError("--keep-root needs an image or a tarball as --root, not a directory");
    if (imageRef !== null) throw configError("--image-ref needs an OCI image as --root");
    return { root: path, kind: "directory", defaults: NO_DEFAULTS, dispose() {} };
  }
  if (!st.isDirectory() && !st.isFile()) throw configError(`filesystem root is not a directory, an image or a tarball: ${path}`);
  if (st.isFile()) {
    const head = readHead(path, 512);
    if (sniffCompression(head) === "none" && !looksLikeTar(head)) throw configError(`filesystem root is not a directory, an image or a tarball: ${path}`);
  }
  const keep = options.keepRoot ? keepRootTarget(options.keepRoot) : null;
  // Staging sits beside the kept root so that the final rename stays on one filesystem.
  const staging = keep ? keepStaging(keep, options.keepRoot!) : makeScratch(path, options.warn ?? ((m) => writeText(2, `sandboxlib: warning: ${m}\n`)));
  let disposed = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    rmSync(staging, { recursive: true, force: true });
  };
  try {
    let layout = path;
    if (st.isFile()) {
      const progress = progressBar(`unpacking ${basename(path)}`, st.size);
      layout = join(staging, "archive");
      mkdirSync(layout);
      await extractTar(await openArchive(path, (n) => progress.add(n)), layout, { label: basename(path), signal: options.signal });
      progress.done();
    }
    let root: string;
    let kind: RootKind;
    let defaults = NO_DEFAULTS;
    if (isOciLayout(layout) || isDockerArchive(layout)) {
      root = join(staging, "rootfs");
      mkdirSync(root, { mode: 0o755 });
      kind = isOciLayout(layout) ? "oci" : "docker-archive";
      defaults = kind === "oci" ? await unpackOci(layout, root, imageRef, options.signal) : await unpackDockerArchive(layout, root, imageRef, options.signal);
    } else if (isAciLayout(layout)) {
      root = join(layout, "rootfs");
      kind = "aci";
      defaults = aciDefaults(layout);
    } else {
      if (imageRef !== null) throw configError("--image-ref needs an OCI image as --root");
      root = layout;
      kind = "tarball";
    }
    if (keep) {
      renameSync(root, keep);
      dispose();
      return { root: keep, kind, defaults, dispose() {} };
    }
    return { root, kind, defaults, dispose };
  } catch (e) {
    dispose();
    if (keep && existsSync(keep)) rmSync(keep, { recursive: true, force: true });
    throw e;
  }
}
