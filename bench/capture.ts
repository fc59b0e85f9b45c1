// Output capture throughput: 1 GiB written by a sandboxed command, to a file
// (--stdout FILE), captured as JSON (--json) or in-process (library CAPTURE),
// against plain pipelines into the same sinks. Throughput is always counted
// in bytes of the command's output, whatever the sink receives.
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { yieldToSignals } from "./cleanup.ts";
import { countStdout, describe, failureText, output, succeeded, timedSync } from "./proc.ts";
import { summarize, type Summary } from "./stats.ts";

export interface CaptureFigure {
  key: string;
  label: string;
  command: string;
  /** Informational only: not a peer in any ratio. */
  reference: boolean;
  samples_ms: number[];
  ms: Summary | null;
  /** 10^6 bytes of command output per second, from the median time. */
  mb_per_s: number | null;
  /** Bytes the sink received when they differ from the output (JSON escaping). */
  sink_bytes: number | null;
  note: string | null;
}

export interface CaptureResult {
  bytes: number;
  repetitions: number;
  figures: CaptureFigure[];
}

interface Variant {
  key: string;
  label: string;
  argv: string[];
  reference?: boolean;
  /** One repetition: its wall time and, for JSON, what the sink got; throws on failure. */
  run(): Promise<{ ms: number; sinkBytes?: number }>;
}

const TIMEOUT_MS = 120_000;

function fileRun(argv: string[], file: string, bytes: number): () => Promise<{ ms: number }> {
  return async () => {
    try {
      const r = timedSync(argv, { timeoutMs: TIMEOUT_MS });
      if (!succeeded(r)) throw new Error(failureText(argv, r));
      const size = statSync(file).size;
      if (size !== bytes) throw new Error(`${describe(argv)}: wrote ${size} of ${bytes} bytes`);
      return { ms: r.ms };
    } finally {
      // 1 GiB per repetition: never let two pile up on /tmp.
      rmSync(file, { force: true });
    }
  };
}

function pipeRun(argv: string[], check: (got: number) => string | null): () => Promise<{ ms: number; sinkBytes: number }> {
  return async () => {
    const r = await countStdout(argv, { timeoutMs: TIMEOUT_MS });
    if (!succeeded(r)) throw new Error(failureText(argv, r));
    const problem = check(r.bytes);
    if (problem) throw new Error(`${describe(argv)}: ${problem}`);
    return { ms: r.ms, sinkBytes: r.bytes };
  };
}

function variants(bin: string, root: string, work: string, bytes: number): Variant[] {
  const file = join(work, "capture.out");
  const inside = ["sh", "-c", `head -c ${bytes} /dev/zero`];
  // The sandboxed command's head is busybox's, which is much slower than
  // GNU head; the peers use the same busybox binary so that only the path
  // of the bytes differs, not their producer.
  const head = `${join(root, "bin/busybox")} head -c ${bytes} /dev/zero`;
  const exact = (got: number) => (got === bytes ? null : `read ${got} of ${bytes} bytes`);
  const withRun = (v: Omit<Variant, "run">, run: Variant["run"]): Variant => ({ ...v, run });
  const catFile = ["sh", "-c", `${head} | cat > '${file}'`];
  const sbFile = [bin, "run", "--root", root, "--dev", "/dev", "--stdout", file, "--", ...inside];
  const catPipe = ["sh", "-c", `${head} | cat`];
  const sbJson = [bin, "run", "--root", root, "--dev", "/dev", "--json", "--", ...inside];
  const libArgv = [process.execPath, join(import.meta.dir, "capture-library.ts"), root, String(bytes)];
  const gnuFile = ["sh", "-c", `head -c ${bytes} /dev/zero | cat > '${file}'`];
  // The same through --json with a build log's kind of output (text lines),
  // where JSON adds next to nothing: NULs are its worst case (6 bytes each).
  const busybox = join(root, "bin/busybox");
  const line = "cc -O2 -Wall -c src/module.c -o build/module.o";
  const textInside = ["sh", "-c", `yes '${line}' | head -c ${bytes}`];
  const catPipeText = ["sh", "-c", `${busybox} yes '${line}' | ${busybox} head -c ${bytes} | cat`];
  const sbJsonText = [bin, "run", "--root", root, "--dev", "/dev", "--json", "--", ...textInside];
  return [
    withRun({ key: "cat_file", label: "busybox head | cat > FILE", argv: catFile }, fileRun(catFile, file, bytes)),
    withRun({ key: "sandboxlib_file", label: "sandboxlib run --stdout FILE", argv: sbFile }, fileRun(sbFile, file, bytes)),
    withRun({ key: "cat_pipe", label: "busybox head | cat | harness", argv: catPipe }, pipeRun(catPipe, exact)),
    // The JSON escapes each NUL byte as \u0000: the harness counts about 6x
    // the output, and only checks that it got at least the output's size.
    withRun({ key: "sandboxlib_json", label: "sandboxlib run --json | harness", argv: sbJson }, pipeRun(sbJson, (got) => (got >= bytes ? null : `read only ${got} bytes of JSON`))),
    withRun({ key: "cat_pipe_text", label: "busybox yes | head | cat | harness", argv: catPipeText }, pipeRun(catPipeText, exact)),
    withRun({ key: "sandboxlib_json_text", label: "sandboxlib run --json (text) | harness", argv: sbJsonText }, pipeRun(sbJsonText, (got) => (got >= bytes ? null : `read only ${got} bytes of JSON`))),
    withRun({ key: "library_capture", label: "library runSandbox stdout: CAPTURE", argv: libArgv }, async () => {
      const r = JSON.parse(output(libArgv, TIMEOUT_MS)) as { ms: number };
      return { ms: r.ms };
    }),
    withRun({ key: "gnu_cat_file", label: "GNU head | cat > FILE (reference)", argv: gnuFile, reference: true }, fileRun(gnuFile, file, bytes)),
  ];
}

export async function runCapture(bin: string, root: string, work: string, bytes: number, repetitions: number, log: (line: string) => void): Promise<CaptureResult> {
  const list = variants(bin, root, work, bytes);
  const samples = list.map(() => [] as number[]);
  const sinkBytes: (number | null)[] = list.map(() => null);
  const notes: (string | null)[] = list.map(() => null);
  // Round-robin over repetitions, like the cold runs.
  for (let rep = 0; rep < repetitions; rep++) {
    for (const [i, v] of list.entries()) {
      // A variant that failed once is not retried: a failing 1 GiB run is
      // slow and the failure is the finding.
      if (notes[i] !== null) continue;
      await yieldToSignals();
      try {
        const r = await v.run();
        samples[i]!.push(r.ms);
        if (r.sinkBytes !== undefined && r.sinkBytes !== bytes) sinkBytes[i] = r.sinkBytes;
      } catch (e) {
        notes[i] = `failed: ${e instanceof Error ? e.message : String(e)}`;
        log(`capture: ${v.label} ${notes[i]}`);
      }
    }
    log(`capture: ${rep + 1}/${repetitions} repetitions`);
  }
  const figures = list.map((v, i): CaptureFigure => {
    const ms = samples[i]!.length ? summarize(samples[i]!) : null;
    return {
      key: v.key,
      label: v.label,
      command: v.argv.join(" "),
      reference: v.reference ?? false,
      samples_ms: samples[i]!,
      ms,
      mb_per_s: ms ? bytes / 1e6 / (ms.median / 1000) : null,
      sink_bytes: sinkBytes[i]!,
      note: notes[i]!,
    };
  });
  return { bytes, repetitions, figures };
}
