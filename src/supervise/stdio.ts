// The command's stdin, stdout and stderr: descriptors prepared in this
// process (all numbered 3 or above, close-on-exec, so the child's dup2 steps
// cannot clobber one another), and readers for captured streams.
import { CAPTURE, type FileLike, type SandboxConfig, STDOUT } from "../config/types.ts";
import { configError } from "../config/errors.ts";
import { close, dupAbove2, isOpenFd, O_RDONLY, O_WRONLY, open, pipe } from "../native/libc.ts";

export interface PreparedStdio {
  /** The descriptors that become the command's 0, 1 and 2. */
  childFds: [number, number, number];
  /** The captured stream that outgrew the capture limit, and the limit, once one has. */
  overflowed(): { stream: "stdout" | "stderr"; limit: number } | null;
  /** Resolves to the captured bytes, or null for a stream not captured. */
  stdout: Promise<Uint8Array | null>;
  stderr: Promise<Uint8Array | null>;
  /** Closes the child's ends in this process (after the spawn). */
  closeChildEnds(): void;
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
 * Reads a pipe to EOF. Output that fits in 64 KiB (most commands') stays in
 * a plain buffer; beyond that it moves to a resizable one, which grows in
 * place (address space is reserved up to the limit, memory is used as output
 * arrives), so big output is held once instead of being copied at each
 * doubling (which peaked at 2-3x the output). Past `limit` it calls
 * `overflow` once and drains the rest without keeping it.
 */
async function readAll(fd: number, limit: number, overflow: () => void): Promise<Uint8Array> {
  // Allocated at the first chunk: most commands of a batch write nothing.
  let bytes = new Uint8Array(0);
  let growable: ArrayBuffer | null = null;
  let size = 0;
  let full = false;
  for await (const chunk of Bun.file(fd).stream()) {
    if (full) continue;
    const needed = size + chunk.length;
    if (needed > limit) {
      full = true;
      overflow();
      continue;
    }
    if (needed > bytes.length) {
      if (bytes.length === 0 && needed <= SMALL) bytes = new Uint8Array(Math.min(SMALL, limit));
      else {
        if (!growable) {
          growable = new ArrayBuffer(0, { maxByteLength: limit });
          growable.resize(Math.min(limit, Math.max(needed, 2 * SMALL)));
          new Uint8Array(growable).set(bytes.subarray(0, size));
        } else growable.resize(Math.min(limit, Math.max(needed, growable.byteLength * 2)));
        bytes = new Uint8Array(growable);
      }
    }
    bytes.set(chunk, size);
    size = needed;
  }
  close(fd);
  if (!growable) return bytes.subarray(0, size);
  growable.resize(size); // what was reserved beyond the output goes back
  return new Uint8Array(growable);
}

/** `onOverflow` is called (once) when a captured stream outgrows the capture limit. */
export function prepareStdio(config: SandboxConfig, onOverflow: () => void = () => {}): PreparedStdio {
  const childEnds: number[] = [];
  const limit = captureLimit();
  let overflowed: { stream: "stdout" | "stderr"; limit: number } | null = null;
  const readEnds: number[] = [];
  const own = (fd: number) => {
    childEnds.push(fd);
    return fd;
  };
  const devNull = (flags: number) => own(open("/dev/null", flags));
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
        readEnds.push(r);
        const overflow = () => {
          if (overflowed !== null) return;
          overflowed = { stream: what, limit };
          onOverflow();
        };
        return [own(w), readAll(r, limit, overflow)];
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
    return {
      childFds: [stdinFd, outFd, errFd],
      overflowed: () => overflowed,
      stdout,
      stderr,
      closeChildEnds() {
        if (childOpen) for (const fd of childEnds) close(fd);
        childOpen = false;
      },
      closeAll() {
        this.closeChildEnds();
      },
    };
  } catch (e) {
    for (const fd of [...childEnds, ...readEnds]) close(fd);
    throw e;
  }
}
