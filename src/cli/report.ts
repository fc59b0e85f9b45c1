// The JSON that --json, --status-fd and batch report about a run.
import { oneLine, type SandboxError, type SandboxErrorKind } from "../base/errors.ts";
import { writeAll, writeText } from "../native/libc.ts";
import { escapeJson, writeEscaped } from "./json-bytes.ts";
import type { SandboxResult } from "../supervise/run.ts";

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * What kind of failure a result reports, for callers that act on it without
 * parsing the message (the Python layer raises AssertionError for "config",
 * RuntimeError for "setup", as the Python library did): "config" for a
 * setting that is invalid or that the backend does not support, "setup" when
 * the sandbox could not be built (or its output outgrew a result), "command"
 * when the command could not be started (not found: 127, not executable: 126).
 */
export type FailureKind = "config" | "setup" | "command";

export function failureKind(kind: SandboxErrorKind): FailureKind {
  if (kind === "usage" || kind === "config") return "config";
  if (kind === "not-found" || kind === "not-executable") return "command";
  return "setup";
}

/** The fields reported about a finished run (without its output). */
export function statusFields(result: SandboxResult): Record<string, unknown> {
  return {
    exit_code: result.exitCode,
    signal: result.signal,
    setup_failed: false,
    failure: null,
    timed_out: result.timedOut,
    oom_killed: result.oomKilled,
    wall_ms: round(result.usage.wallMs),
    user_ms: round(result.usage.userMs),
    sys_ms: round(result.usage.sysMs),
    max_rss_kb: result.usage.maxRssKb,
    cgroup_peak_kb: result.usage.cgroupPeakKb,
  };
}

/** The same fields when sandboxlib failed before the command could run. */
export function failureFields(error: SandboxError, startedAt: number): Record<string, unknown> {
  return {
    exit_code: error.exitCode,
    signal: null,
    setup_failed: true,
    failure: failureKind(error.kind),
    // One line, as on stderr (failure.ts): whatever a message quotes.
    error: oneLine(error.message),
    step: error.step,
    timed_out: false,
    oom_killed: false,
    wall_ms: round(performance.now() - startedAt),
    user_ms: 0,
    sys_ms: 0,
    max_rss_kb: null,
    cgroup_peak_kb: null,
  };
}

/** A result line: its fields and the captured output to append. */
export interface ResultRecord {
  fields: Record<string, unknown>;
  stdout: Uint8Array | null;
  stderr: Uint8Array | null;
}

export function resultRecord(result: SandboxResult, tag: Record<string, unknown> = {}): ResultRecord {
  return { fields: { ...tag, ...statusFields(result) }, stdout: result.stdout, stderr: result.stderr };
}

const CHUNK = 1 << 20;

/** simdutf's check (node:buffer isUtf8), loaded on first use: 40x TextDecoder's speed. */
function isUtf8(bytes: Uint8Array): boolean {
  return (require("node:buffer") as typeof import("node:buffer")).isUtf8(bytes);
}

/** Where a result line goes: text, and bytes to be written JSON-escaped. */
interface JsonOut {
  text(text: string): void;
  escaped(bytes: Uint8Array): void;
}

/** Straight to `fd`, a piece at a time: output of any size is never held as one string. */
function toFd(fd: number): JsonOut {
  return { text: (text) => writeText(fd, text), escaped: (bytes) => writeEscaped(fd, bytes) };
}

/** Into memory, then out with one write(2) (flush). */
function buffered(): JsonOut & { flush(fd: number): void } {
  const parts: Uint8Array[] = [];
  return {
    text: (text) => parts.push(utf8.encode(text)),
    escaped: (bytes) => parts.push(escapeJson(bytes)),
    flush(fd) {
      const line = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        line.set(p, at);
        at += p.length;
      }
      writeAll(fd, line);
    },
  };
}

const utf8 = new TextEncoder();

/**
 * `"name":<bytes as a JSON string>`, a chunk at a time (1 GiB of NULs is
 * 6 GiB of JSON). Bytes that are not UTF-8 go out as base64, with
 * `"name_encoding":"base64"`.
 */
function putStream(out: JsonOut, name: string, bytes: Uint8Array | null): void {
  if (bytes === null) return out.text(`,"${name}":null`);
  if (isUtf8(bytes)) {
    out.text(`,"${name}":"`);
    out.escaped(bytes);
    return out.text('"');
  }
  out.text(`,"${name}":"`);
  const step = CHUNK - (CHUNK % 3); // whole base64 groups per chunk
  for (let off = 0; off < bytes.length; off += step) out.text(bytes.subarray(off, off + step).toBase64());
  out.text(`","${name}_encoding":"base64"`);
}

/** Captured output up to this size goes out with its result in one write(2). */
const ONE_WRITE = 64 * 1024;

function putResult(out: JsonOut, record: ResultRecord): void {
  out.text(JSON.stringify(record.fields).slice(0, -1));
  putStream(out, "stdout", record.stdout);
  putStream(out, "stderr", record.stderr);
  out.text("}\n");
}

/** Writes one result as a line of JSON: its fields, then stdout and stderr. */
export function writeResultLine(fd: number, record: ResultRecord): void {
  if ((record.stdout?.length ?? 0) + (record.stderr?.length ?? 0) > ONE_WRITE) return putResult(toFd(fd), record);
  const line = buffered();
  putResult(line, record);
  line.flush(fd);
}
