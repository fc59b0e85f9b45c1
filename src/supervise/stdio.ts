// The command's stdin, stdout and stderr: descriptors prepared in this
// process (all numbered 3 or above, close-on-exec, so the child's dup2 steps
// cannot clobber one another), and the reading of captured streams.
import { CAPTURE, type FileLike, type SandboxConfig, STDOUT } from "../config/types.ts";
import { configError } from "../base/errors.ts";
import { close, dupAbove2, isOpenFd, O_RDONLY, O_WRONLY, open, pipe, setNonBlocking } from "../native/libc.ts";
import { CAPTURE_STREAM_DELAY_MS, captureLimit, CapturePipe } from "./capture.ts";

export interface PreparedStdio {
  /** The descriptors that become the command's 0, 1 and 2. */
  childFds: [number, number, number];
  /** Whether this process reads the command's output (a pipe it drains). */
  capturing: boolean;
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
      capturing: captures.length > 0,
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
