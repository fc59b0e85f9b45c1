// Resource limits (setrlimit) by name: --rlimit NAME=SOFT[:HARD].
import { configError } from "../base/errors.ts";

export const RLIMIT_NUMBERS: Readonly<Record<string, number>> = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7,
  memlock: 8, as: 9, locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
};

export const RLIM_INFINITY = (1n << 64n) - 1n;

/**
 * The smallest process limit (--pids, an nproc rlimit) a command starts
 * under: its launcher (src/native/init.c) is still there, for a moment,
 * when it starts the command; the command gets every slot once it is gone.
 */
export const MIN_PROCESSES = 2;

export interface Rlimit {
  name: string;
  resource: number;
  soft: bigint;
  hard: bigint;
}

/** A limit value: a non-negative integer (or its digits), or "unlimited"/"infinity". */
export type RlimitValue = number | string;

function value(raw: RlimitValue, what: string): bigint {
  if (raw === "unlimited" || raw === "infinity") return RLIM_INFINITY;
  const text = String(raw);
  if (!/^\d+$/.test(text)) throw configError(`invalid rlimit ${what}: ${raw} (expected a non-negative integer or unlimited)`);
  return BigInt(text);
}

export function makeRlimit(name: string, soft: RlimitValue, hard?: RlimitValue): Rlimit {
  const key = name.toLowerCase().replace(/^rlimit_/, "");
  const resource = RLIMIT_NUMBERS[key];
  if (resource === undefined) throw configError(`unknown rlimit: ${name} (known: ${Object.keys(RLIMIT_NUMBERS).join(", ")})`);
  const s = value(soft, `${key} soft value`);
  const h = hard === undefined ? s : value(hard, `${key} hard value`);
  if (s > h) throw configError(`rlimit ${key}: soft limit ${soft} is above hard limit ${hard}`);
  if (key === "nproc" && s < BigInt(MIN_PROCESSES)) {
    throw configError(`rlimit nproc: ${soft} is below the minimum of ${MIN_PROCESSES} (the command's launcher holds one while it starts the command)`);
  }
  return { name: key, resource, soft: s, hard: h };
}

/** "nofile=1024:4096", "core=0", "cpu=unlimited". */
export function parseRlimit(spec: string): Rlimit {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw configError(`invalid rlimit: ${spec} (expected NAME=SOFT[:HARD])`);
  const [soft, hard, extra] = spec.slice(eq + 1).split(":");
  if (soft === undefined || soft === "" || extra !== undefined || hard === "") throw configError(`invalid rlimit: ${spec} (expected NAME=SOFT[:HARD])`);
  return makeRlimit(spec.slice(0, eq), soft, hard);
}
