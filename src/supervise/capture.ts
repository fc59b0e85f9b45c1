// Reading a captured stream's pipe: with a stream while the command runs
// (after a short delay), or in one go once it has exited, which spares most
// commands of a batch a Bun stream per pipe; and holding the bytes, up to the
// capture limit.
import { close, readAvailable } from "../native/libc.ts";

/**
 * The most output one captured stream may hold: JavaScriptCore's largest
 * ArrayBuffer (4 GiB), or less when SANDBOXLIB_CAPTURE_LIMIT says so.
 */
export function captureLimit(): number {
  const max = 4 * 1024 ** 3;
  const asked = Number(process.env.SANDBOXLIB_CAPTURE_LIMIT);
  return Number.isSafeInteger(asked) && asked > 0 && asked < max ? asked : max;
}

const SMALL = 64 * 1024;

/**
 * The bytes of one captured stream. Output that fits in 64 KiB (most
 * commands') stays in a plain buffer; beyond that it moves to a resizable
 * one, which grows in place (address space is reserved up to the limit,
 * memory is used as output arrives), so big output is held once instead of
 * being copied at each doubling (which peaked at 2-3x the output). Past
 * `limit` it calls `overflow` once and keeps nothing more.
 */
class CapturedBytes {
  // Allocated at the first chunk: most commands of a batch write nothing.
  private bytes = new Uint8Array(0);
  private growable: ArrayBuffer | null = null;
  private size = 0;
  private full = false;

  constructor(
    private readonly limit: number,
    private readonly overflow: () => void,
  ) {}

  append(chunk: Uint8Array): void {
    if (this.full) return;
    const needed = this.size + chunk.length;
    if (needed > this.limit) {
      this.full = true;
      this.overflow();
      return;
    }
    if (needed > this.bytes.length) {
      if (this.bytes.length === 0 && needed <= SMALL) this.bytes = new Uint8Array(Math.min(SMALL, this.limit));
      else {
        if (!this.growable) {
          this.growable = new ArrayBuffer(0, { maxByteLength: this.limit });
          this.growable.resize(Math.min(this.limit, Math.max(needed, 2 * SMALL)));
          new Uint8Array(this.growable).set(this.bytes.subarray(0, this.size));
        } else this.growable.resize(Math.min(this.limit, Math.max(needed, this.growable.byteLength * 2)));
        this.bytes = new Uint8Array(this.growable);
      }
    }
    this.bytes.set(chunk, this.size);
    this.size = needed;
  }

  result(): Uint8Array {
    if (!this.growable) return this.bytes.subarray(0, this.size);
    this.growable.resize(this.size); // what was reserved beyond the output goes back
    return new Uint8Array(this.growable);
  }
}

/**
 * How long a running command's captured pipes are left unread before a
 * stream reads them. A command that is over by then (most commands of a
 * batch) costs no stream at all: its output is read in one go once it has
 * exited. One that fills a pipe (64 KiB) sooner waits at most this long, once.
 */
export const CAPTURE_STREAM_DELAY_MS = 5;

/** Scratch space for the reads made without a stream (one thread reads). */
const drainBuffer = new Uint8Array(SMALL);

/** The read end of one captured pipe (non-blocking), read to EOF. */
export class CapturePipe {
  private readonly outcome = Promise.withResolvers<Uint8Array>();
  readonly done = this.outcome.promise;
  private streaming = false;
  private finished = false;
  private readonly bytes: CapturedBytes;

  constructor(
    private readonly fd: number,
    limit: number,
    overflow: () => void,
  ) {
    this.bytes = new CapturedBytes(limit, overflow);
  }

  private finish(): void {
    this.finished = true;
    close(this.fd);
    this.outcome.resolve(this.bytes.result());
  }

  private failWith(e: unknown): void {
    this.finished = true;
    close(this.fd);
    this.outcome.reject(e);
  }

  /** Reads with a stream from now on, to EOF. */
  stream(): void {
    if (this.streaming || this.finished) return;
    this.streaming = true;
    void (async () => {
      for await (const chunk of Bun.file(this.fd).stream()) this.bytes.append(chunk);
      this.finish();
    })().catch((e) => this.failWith(e));
  }

  /** Closes the pipe unread (prepareStdio failed: nobody awaits the bytes). */
  abandon(): void {
    this.finished = true;
    close(this.fd);
  }

  /** Reads what is there now; at EOF that is all, otherwise a stream reads the rest. */
  drain(): void {
    if (this.streaming || this.finished) return;
    try {
      for (;;) {
        const n = readAvailable(this.fd, drainBuffer);
        if (n === 0) return this.finish();
        if (n < 0) return this.stream();
        this.bytes.append(drainBuffer.subarray(0, n));
      }
    } catch (e) {
      this.failWith(e);
    }
  }
}
