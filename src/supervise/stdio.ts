// The command's stdin, stdout and stderr: descriptors prepared in this
// process (all numbered 3 or above, close-on-exec, so the child's dup2 steps
// cannot clobber one another), and the reading of captured streams.
import { CAPTURE, type FileLike, type SandboxConfig, STDOUT } from "../config/types.ts";
import { configError } from "../config/errors.ts";
import { close, dupAbove2, isOpenFd, O_RDONLY, O_WRONLY, open, pipe, readAvailable, setNonBlocking } from "../native/libc.ts";

export interface PreparedStdio {
  /** The descriptors that become the command's 0, 1 and 2. */
  childFds: [number, number, number];
  /** The captured stream that outgrew the capture limit, and the limit, once one has. */
  overflowed(): { stream: "stdout" | "stderr"; limit: number } | null;
  /** Resolves to the captured bytes, or null for a stream not captured. */
  stdout: Promise<Uint8Array | null>;
  stderr: Promise<Uint8Array | null>;
  /** Closes the child's ends in this process and starts the clock of captured streams (after the spawn). */
  commandStarted(): void;
  /** Reads what captured pipes hold (after the sandbox has been reaped): most commands' whole output. */
  commandExited(): void;
  /** Closes everything still open (after a failure). */
  closeAll(): void;
}

const fdOf = (file: FileLike) => (typeof file === "number" ? file : file.fd);

/**
 * The most output one captured stream may hold: JavaScriptCore's largest
 * ArrayBuffer (4 GiB), or less when SANDBOXLIB_CAPTURE_LIMIT says so.
 */
function captureLimit(): number {
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
class CapturePipe {
  readonly done: Promise<Uint8Array>;
  private settle!: (bytes: Uint8Array) => void;
  private fail!: (e: unknown) => void;
  private streaming = false;
  private finished = false;
  private readonly bytes: CapturedBytes;

  constructor(
    private readonly fd: number,
    limit: number,
    overflow: () => void,
  ) {
    this.bytes = new CapturedBytes(limit, overflow);
    this.done = new Promise((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
  }

  private finish(): void {
    this.finished = true;
    close(this.fd);
    this.settle(this.bytes.result());
  }

  /** Reads with a stream from now on, to EOF. */
  stream(): void {
    if (this.streaming || this.finished) return;
    this.streaming = true;
    void (async () => {
      for await (const chunk of Bun.file(this.fd).stream()) this.bytes.append(chunk);
      this.finish();
    })().catch((e) => this.fail(e));
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
      this.finished = true;
      close(this.fd);
      this.fail(e);
    }
  }
}

/**
 * /dev/null for reading and for writing, opened once for every sandbox of
 * the process (close-on-exec, never closed): what a command does to it
 * changes nothing another one sees.
 */
const sharedDevNull: Partial<Record<number, number>> = {};

/** `onOverflow` is called (once) when a captured stream outgrows the capture limit. */
export function prepareStdio(config: SandboxConfig, onOverflow: () => void = () => {}): PreparedStdio {
  const childEnds: number[] = [];
  const limit = captureLimit();
  let overflowed: { stream: "stdout" | "stderr"; limit: number } | null = null;
  const captures: CapturePipe[] = [];
  const own = (fd: number) => {
    childEnds.push(fd);
    return fd;
  };
  const devNull = (flags: typeof O_RDONLY | typeof O_WRONLY) => (sharedDevNull[flags] ??= open("/dev/null", flags));
  const dupOf = (fd: number, what: string) => {
    if (!isOpenFd(fd)) throw configError(`${what} is not an open file descriptor: ${fd}`);
    return own(dupAbove2(fd));
  };
  try {
    const stdinFd =
      config.stdin === undefined
        ? isOpenFd(0)
          ? dupOf(0, "stdin")
          : devNull(O_RDONLY)
        : config.stdin === null
          ? devNull(O_RDONLY)
          : dupOf(fdOf(config.stdin), "stdin");
    let stdout: Promise<Uint8Array | null> = Promise.resolve(null);
    let stderr: Promise<Uint8Array | null> = Promise.resolve(null);
    const output = (target: typeof config.stdout, what: "stdout" | "stderr"): [number, Promise<Uint8Array> | null] => {
      if (target === CAPTURE) {
        const [r, w] = pipe();
        own(w);
        const overflow = () => {
          if (overflowed !== null) return;
          overflowed = { stream: what, limit };
          onOverflow();
        };
        const capture = new CapturePipe(r, limit, overflow);
        captures.push(capture);
        setNonBlocking(r);
        return [w, capture.done];
      }
      if (target === null) return [devNull(O_WRONLY), null];
      return [dupOf(fdOf(target), what), null];
    };
    const [outFd, outReader] = output(config.stdout, "stdout");
    if (outReader) stdout = outReader;
    let errFd: number;
    if (config.stderr === STDOUT) errFd = outFd;
    else {
      const [fd, reader] = output(config.stderr, "stderr");
      errFd = fd;
      if (reader) stderr = reader;
    }
    let childOpen = true;
    const closeChildEnds = () => {
      if (childOpen) for (const fd of childEnds) close(fd);
      childOpen = false;
    };
    let streamLater: ReturnType<typeof setTimeout> | undefined;
    const drainAll = () => {
      clearTimeout(streamLater);
      for (const capture of captures) capture.drain();
    };
    return {
      childFds: [stdinFd, outFd, errFd],
      overflowed: () => overflowed,
      stdout,
      stderr,
      commandStarted() {
        closeChildEnds();
        if (captures.length) streamLater = setTimeout(() => captures.forEach((c) => c.stream()), CAPTURE_STREAM_DELAY_MS);
      },
      commandExited: drainAll,
      closeAll() {
        closeChildEnds();
        drainAll();
      },
    };
  } catch (e) {
    for (const fd of childEnds) close(fd);
    for (const capture of captures) capture.abandon();
    throw e;
  }
}
