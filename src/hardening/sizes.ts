// Byte sizes with suffixes, as --memory takes them: 512k, 32M, 1.5G (1024-based).
import { configError } from "../base/errors.ts";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseBytes(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw configError(`invalid value for ${what}: ${text} (expected bytes, with an optional k, M or G suffix)`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes <= 0) throw configError(`invalid value for ${what}: ${text} (must be more than zero)`);
  return bytes;
}
