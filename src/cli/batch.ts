// `sandboxlib batch`: JSON lines in (the --config schema, plus an optional
// "id"), one JSON result line out per input line, in input order; up to
// --jobs sandboxes at a time from this one warm process. A failing entry
// never stops the others; a malformed line gets an error result naming it.
import { configError, SandboxError } from "../base/errors.ts";
import { executorForPlatform, getExecutor } from "../executors/registry.ts";
import { close } from "../native/libc.ts";
import { signalAll } from "../supervise/active.ts";
import { refuseNul, settingsFromConfig } from "./config-file.ts";
import type { BatchRequest } from "./parse.ts";
import { asSandboxError, warn } from "./failure.ts";
import { failureFields, type ResultRecord, resultRecord, writeResultLine } from "./report.ts";
import { toSandboxOptions } from "./sandbox-options.ts";
import { checkCommand, checkSettings } from "./settings.ts";
import { withPreparedRoot } from "./image-root.ts";

/** The lines of a stream, as they arrive. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl = pending.indexOf("\n");
    while (nl >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      nl = pending.indexOf("\n");
    }
  }
  pending += decoder.decode();
  if (pending !== "") yield pending;
}

type Tag = { line: number; id?: string | number };

/** Runs one line; never throws. `onExit` is called once its sandbox is gone (if it ran). */
async function runLine(text: string, tag: Tag, onExit: () => void): Promise<ResultRecord> {
  const startedAt = performance.now();
  try {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw configError(`invalid JSON: ${(e as Error).message}`);
    }
    refuseNul(value);
    if (typeof value === "object" && value !== null && !Array.isArray(value) && "id" in value) {
      const { id, ...rest } = value as { id: unknown };
      if (typeof id !== "string" && typeof id !== "number") throw configError("id: expected a string or number");
      tag.id = id;
      value = rest;
    }
    const s = settingsFromConfig(value);
    if (s.statusFd !== null) throw configError("status-fd: not supported in batch (each result is a line of the output)");
    checkSettings({ ...s, json: true });
    const opened: number[] = [];
    try {
      return await withPreparedRoot(s, undefined, async () => {
        checkCommand(s);
        const executor = s.backend ? getExecutor(s.backend) : executorForPlatform(warn);
        let options = toSandboxOptions(s, opened, "batch");
        if (s.degrade) options = executor.degradeConfigForCapabilities(options, warn);
        options.onExit = onExit;
        return resultRecord(await executor.runSandbox(s.command, options), tag);
      });
    } finally {
      for (const fd of opened) close(fd);
    }
  } catch (e) {
    const error = asSandboxError(e);
    const located = new SandboxError(error.kind, `line ${tag.line}: ${error.message}`, error.step);
    return { fields: { ...tag, ...failureFields(located, startedAt) }, stdout: null, stderr: null };
  }
}

/**
 * Finished results that may wait for an earlier, slower line: beyond either
 * bound no new line starts until the earlier one is written, so memory stays
 * bounded (one result bigger than the byte bound still waits, whole).
 */
export const PENDING_RESULTS_MAX = 1024;
export const PENDING_BYTES_MAX = 64 * 1024 * 1024;

/** The captured output a waiting result holds. */
const heldBytes = (r: ResultRecord) => (r.stdout?.length ?? 0) + (r.stderr?.length ?? 0);

/**
 * Runs the batch; resolves to its exit status: 0 once every line read has its
 * result, 128+N when signal N stopped it (the results of the lines started
 * are written first).
 */
export async function runBatch(req: BatchRequest, out: (record: ResultRecord) => void): Promise<number> {
  const input = req.input === "-" ? Bun.stdin.stream() : Bun.file(req.input).stream();
  let stoppedBy: number | null = null;
  const { promise: stopped, resolve: stopNow } = Promise.withResolvers<null>();
  const stop = (signal: number) => () => {
    stoppedBy ??= signal;
    stopNow(null);
    signalAll(signal);
  };
  const handlers: [string, () => void][] = [["SIGINT", stop(2)], ["SIGTERM", stop(15)], ["SIGHUP", stop(1)]];
  for (const [name, handler] of handlers) process.on(name, handler);
  // Results wait here until every earlier line's result is out.
  const done = new Map<number, ResultRecord>();
  let waitingBytes = 0;
  let nextOut = 1;
  let written = Promise.withResolvers<void>();
  const flush = () => {
    while (done.has(nextOut)) {
      const result = done.get(nextOut)!;
      done.delete(nextOut++);
      waitingBytes -= heldBytes(result);
      out(result);
    }
    written.resolve();
    written = Promise.withResolvers<void>();
  };
  const finished = (n: number, result: ResultRecord) => {
    done.set(n, result);
    waitingBytes += heldBytes(result);
    flush();
  };
  const tooMuchWaiting = () => done.size >= PENDING_RESULTS_MAX || waitingBytes >= PENDING_BYTES_MAX;
  // A line holds one of the --jobs slots until its sandbox is gone, not
  // until its result is out: the next sandbox is set up meanwhile.
  const slots = new Set<Promise<void>>();
  const running = new Set<Promise<void>>();
  const forget = (set: Set<Promise<void>>, p: Promise<void>) => void p.then(() => set.delete(p), () => set.delete(p));
  const lineReader = lines(input);
  let lineNo = 0;
  try {
    for (;;) {
      // A failure to write results (EPIPE) ends the batch: it reaches this
      // loop through a line's slot.
      while (stoppedBy === null && slots.size >= req.jobs) await Promise.race([...slots, stopped]);
      while (stoppedBy === null && tooMuchWaiting()) await Promise.race([written.promise, stopped]);
      if (stoppedBy !== null) break;
      // A signal also ends a wait for input that may never come.
      const reading = lineReader.next();
      reading.catch(() => {});
      const next = await Promise.race([reading, stopped]);
      if (next === null || next.done) break;
      const text = next.value;
      const n = ++lineNo;
      if (text.trim() === "") {
        finished(n, { fields: { line: n, ...failureFields(new SandboxError("config", `line ${n}: empty line`), performance.now()) }, stdout: null, stderr: null });
        continue;
      }
      const { promise: slot, resolve: freeSlot, reject: failSlot } = Promise.withResolvers<void>();
      const job = runLine(text, { line: n }, freeSlot).then((result) => finished(n, result));
      job.then(freeSlot, failSlot);
      slots.add(slot);
      forget(slots, slot);
      running.add(job);
      forget(running, job);
    }
    await Promise.all(running);
    return stoppedBy === null ? 0 : 128 + stoppedBy;
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}
