// Paths inside the sandbox root, kept in one canonical form: relative to the
// root, no leading or trailing '/', no '.', '..' folded lexically (the kernel
// still resolves symlinks inside the root when the plan runs).
import { configError } from "./errors.ts";

/** Lexically folded components of `path` taken as absolute: "/a//b/../c/." -> ["a", "c"]. */
function components(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out;
}

/** "/a//b/../c/" -> "a/c"; "/" -> "". */
export function inRootPath(path: string): string {
  if (path.includes("\0")) throw configError(`path contains a NUL byte: ${JSON.stringify(path)}`);
  return components(path).join("/");
}

/** `path` taken as absolute and folded lexically: "a/../b/" -> "/b". */
export function absolutePath(path: string): string {
  return `/${components(path).join("/")}`;
}

/** True when `path` is `ancestor` or lies below it (both canonical). */
export function isWithin(path: string, ancestor: string): boolean {
  return ancestor === "" || path === ancestor || path.startsWith(`${ancestor}/`);
}

/** The canonical path as the sandbox sees it: "a/c" -> "/a/c". */
export function shownPath(rel: string): string {
  return `/${rel}`;
}
