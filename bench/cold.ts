// Cold start: one /bin/true per process, the whole cost of a sandbox as a
// build script pays it. Variants run interleaved (every round runs each once)
// so that drift in the machine's state (page cache, CPU frequency, other
// load) is spread over all of them instead of landing on one.
import { yieldToSignals } from "./cleanup.ts";
import { mustRun } from "./proc.ts";
import { summarize, type Summary } from "./stats.ts";

export interface ColdVariant {
  key: string;
  label: string;
  argv: string[];
}

export interface ColdResult {
  rounds: number;
  warmup_rounds: number;
  variants: { key: string; label: string; command: string; ms: Summary }[];
}

export function coldVariants(bin: string, root: string, emptyBun: string, floor: string): ColdVariant[] {
  return [
    { key: "sandboxlib", label: "sandboxlib run", argv: [bin, "run", "--root", root, "--network", "isolated", "--proc", "/proc", "--read-only", "--", "/bin/true"] },
    { key: "empty_bun", label: "empty Bun executable", argv: [emptyBun] },
    { key: "c_floor", label: "C floor, one sandbox", argv: [floor, root, "1"] },
    { key: "bwrap", label: "bwrap", argv: ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", root, "/", "--proc", "/proc", "/bin/true"] },
    { key: "unshare_chroot", label: "unshare -mpinuf chroot", argv: ["unshare", "-mpinuf", "chroot", root, "/bin/true"] },
    { key: "chroot", label: "chroot (GNU)", argv: ["chroot", root, "/bin/true"] },
    { key: "true", label: "/bin/true", argv: ["/bin/true"] },
  ];
}

const TIMEOUT_MS = 10_000;

export async function runCold(variants: readonly ColdVariant[], rounds: number, warmupRounds: number, log: (line: string) => void): Promise<ColdResult> {
  const samples = variants.map(() => [] as number[]);
  for (let round = -warmupRounds; round < rounds; round++) {
    // Rotating the starting variant keeps any "runs right after X" effect
    // from always hitting the same variant.
    const offset = ((round % variants.length) + variants.length) % variants.length;
    for (let i = 0; i < variants.length; i++) {
      const index = (i + offset) % variants.length;
      const r = mustRun(variants[index]!.argv, { timeoutMs: TIMEOUT_MS });
      if (round >= 0) samples[index]!.push(r.ms);
    }
    await yieldToSignals();
    if (round >= 0 && (round + 1) % 50 === 0) log(`cold: ${round + 1}/${rounds} rounds`);
  }
  return {
    rounds,
    warmup_rounds: warmupRounds,
    variants: variants.map((v, i) => ({ key: v.key, label: v.label, command: v.argv.join(" "), ms: summarize(samples[i]!) })),
  };
}
