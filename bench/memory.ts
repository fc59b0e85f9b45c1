// Peak memory (max RSS) of the sandboxlib process while it supervises a
// command, as GNU time reports it. The kernel's figure for a waited-for
// process also covers its own reaped children (the in-sandbox init shares
// sandboxlib's memory; the commands are small busybox processes).
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { yieldToSignals } from "./cleanup.ts";
import { failureText, succeeded, timedSync } from "./proc.ts";
import { summarize, type Summary } from "./stats.ts";
import { bytesLabel } from "./units.ts";
import { warmSandboxConfig } from "./warm.ts";

export interface MemoryFigure {
  key: string;
  label: string;
  /** The run holds captured output by design: reported, not held to the supervision target. */
  holdsOutput: boolean;
  command: string;
  samples_kib: number[];
  kib: Summary;
}

export interface MemoryResult {
  repetitions: number;
  figures: MemoryFigure[];
}

function maxRssKib(argv: string[], work: string, timeoutMs: number): number {
  const report = join(work, "time.out");
  // -o keeps GNU time's figure apart from the command's own stderr.
  const wrapped = ["/usr/bin/time", "-f", "%M", "-o", report, ...argv];
  try {
    const r = timedSync(wrapped, { timeoutMs });
    if (!succeeded(r)) throw new Error(failureText(wrapped, r));
    const kib = Number(readFileSync(report, "utf8").trim().split("\n").pop());
    if (!Number.isFinite(kib) || kib <= 0) throw new Error(`GNU time reported no max RSS for ${argv.join(" ")}`);
    return kib;
  } finally {
    rmSync(report, { force: true });
  }
}

export async function runMemory(bin: string, root: string, work: string, bytes: number, batchLines: number, jobs: number, repetitions: number): Promise<MemoryResult> {
  const file = join(work, "memory.out");
  const cases = [
    { key: "sleep", label: "sandboxlib run -- sleep 1", holdsOutput: false, timeoutMs: 30_000, argv: [bin, "run", "--root", root, "--network", "isolated", "--proc", "/proc", "--read-only", "--", "sleep", "1"] },
    { key: "stdout_file_1gib", label: `sandboxlib run --stdout FILE (${bytesLabel(bytes)})`, holdsOutput: false, timeoutMs: 120_000, argv: [bin, "run", "--root", root, "--dev", "/dev", "--stdout", file, "--", "sh", "-c", `head -c ${bytes} /dev/zero`] },
    // --json reports the output after the command ends, so it holds it all.
    { key: "json_1gib", label: `sandboxlib run --json (${bytesLabel(bytes)}, held for the result)`, holdsOutput: true, timeoutMs: 300_000, argv: [bin, "run", "--root", root, "--dev", "/dev", "--json", "--", "sh", "-c", `head -c ${bytes} /dev/zero`] },
  ];
  // batch, supervising one sandbox after another from a file of N lines, then J at a time.
  const lines = join(work, "memory-batch.jsonl");
  const line = JSON.stringify(warmSandboxConfig(root));
  writeFileSync(lines, `${Array.from({ length: batchLines }, () => line).join("\n")}\n`);
  cases.push({ key: "batch", label: `sandboxlib batch --jobs 1 (${batchLines} sandboxes)`, holdsOutput: false, timeoutMs: 300_000, argv: [bin, "batch", "--jobs", "1", lines] });
  cases.push({ key: "batch_jobs", label: `sandboxlib batch --jobs ${jobs} (${batchLines} sandboxes)`, holdsOutput: false, timeoutMs: 300_000, argv: [bin, "batch", "--jobs", String(jobs), lines] });
  const figures: MemoryFigure[] = [];
  for (const { key, label, holdsOutput, argv, timeoutMs } of cases) {
    const samples: number[] = [];
    for (let i = 0; i < repetitions; i++) {
      try {
        samples.push(maxRssKib(argv, work, timeoutMs));
      } finally {
        rmSync(file, { force: true });
      }
      await yieldToSignals();
    }
    figures.push({ key, label, holdsOutput, command: argv.join(" "), samples_kib: samples, kib: summarize(samples) });
  }
  return { repetitions, figures };
}
