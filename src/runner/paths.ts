// Where a request's paths lead: every path bb_worker sends is relative (to
// the build directory, or to the input root for the working directory), and
// must stay inside it. The lexical check is pure; `inside` also follows the
// symlinks that exist, so that a link in the build directory cannot lead out.
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";

/** A request that names a bad path or value: INVALID_ARGUMENT, with this message. */
export class BadRequest extends Error {
  override readonly name = "BadRequest";
}

const show = (value: string) => JSON.stringify(value);

/**
 * The components of a relative path, or a BadRequest naming the field: an
 * absolute path, a `..` component or a NUL byte is refused. "" and "." are
 * the base itself (allowed only when `emptyOk`).
 */
export function relativeParts(field: string, value: string, emptyOk: boolean): string[] {
  if (value.includes("\0")) throw new BadRequest(`${field}: contains a NUL byte: ${show(value)}`);
  if (value.startsWith("/")) throw new BadRequest(`${field}: must be relative, not absolute: ${show(value)}`);
  const parts = value.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new BadRequest(`${field}: must not contain "..": ${show(value)}`);
  if (parts.length === 0 && !emptyOk) throw new BadRequest(`${field}: must not be empty: ${show(value)}`);
  return parts;
}

/** Whether `path` is `base` or below it (both canonical). */
export function isWithin(base: string, path: string): boolean {
  return path === base || path.startsWith(base.endsWith("/") ? base : `${base}/`);
}

/** The canonical form of `path`'s deepest existing ancestor, with the rest appended as given. */
function resolveExisting(path: string): string {
  const rest: string[] = [];
  let p = path;
  for (;;) {
    try {
      return join(realpathSync(p), ...rest.reverse());
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw e;
      const parent = dirname(p);
      if (parent === p) throw e;
      rest.push(p.slice(parent.length + (parent.endsWith("/") ? 0 : 1)));
      p = parent;
    }
  }
}

/**
 * `value`, relative to `base` (canonical), as a host path that stays inside
 * `base` once its existing symlinks are followed; a BadRequest otherwise.
 */
export function inside(base: string, field: string, value: string, emptyOk = false): string {
  const parts = relativeParts(field, value, emptyOk);
  const path = join(base, ...parts);
  let real: string;
  try {
    real = resolveExisting(path);
  } catch (e) {
    throw new BadRequest(`${field}: cannot resolve ${show(value)}: ${(e as Error).message}`);
  }
  if (!isWithin(base, real)) throw new BadRequest(`${field}: leads outside the build directory (through a symbolic link): ${show(value)}`);
  return real;
}
