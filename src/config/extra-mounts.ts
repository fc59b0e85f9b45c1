// validate_extra_mounts of the Python library, with its messages.
import { configError } from "../base/errors.ts";
import type { ExtraMount, ExtraMountEntry } from "./types.ts";

const show = (entry: unknown) => JSON.stringify(entry);

/**
 * Checks `extra_mounts` entries and gives each its four fields: a
 * three-element entry gets options ''. Throws on an empty mount point or an
 * entry of another length.
 */
export function validateExtraMounts(entries: readonly ExtraMountEntry[] | null | undefined): ExtraMount[] {
  if (entries === null || entries === undefined) return [];
  return entries.map((entry: readonly unknown[]) => {
    if (!Array.isArray(entry)) throw configError(`Invalid mount entry in 'extra_mounts': ${show(entry)}`);
    if (entry.length >= 2 && (entry[1] === null || entry[1] === undefined || entry[1] === "")) {
      throw configError(`Mount point empty in mount entry ${show(entry)}`);
    }
    if (entry.length !== 3 && entry.length !== 4) {
      throw configError(`Invalid mount entry in 'extra_mounts': ${show(entry)}`);
    }
    for (const field of entry) {
      if (field !== null && field !== undefined && typeof field !== "string") {
        throw configError(`Invalid mount entry in 'extra_mounts': ${show(entry)}`);
      }
    }
    const [source, target, type, options] = entry as (string | null | undefined)[];
    return { source: source ?? null, target: target as string, type: type ?? null, options: options ?? "" };
  });
}
