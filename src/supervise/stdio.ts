// The command's stdin, stdout and stderr: descriptors prepared in this
// process (all numbered 3 or above, close-on-exec, so the child's dup2 steps
// cannot clobber one another), and readers for captured streams.
import { CAPTURE, type FileLike, type SandboxConfig, STDOUT } from "../config/types.ts";
import { configError } from "../config/errors.ts";
import { close, dupAbove2, isOpenFd, O_RDONLY, O_WRONLY, open, pipe } from "../native/libc.ts";

export interface PreparedStdio {
  /** The descriptors that become the command's 0, 1 and 2. */
  childFds: [number, number, number];
  /** Resolves to the captured bytes, or null for a stream not captured. */
  stdout: Promise<Uint8Array | null>;
  stderr: Promise<Uint8Array | null>;
  /** Closes the child's ends in this process (after the spawn). */
  closeChildEnds(): void;
  /** Closes everything still open (after a failure). */
  closeAll(): void;
}

const fdOf = (file: FileLike) => (typeof file === "number" ? file : file.fd);

/** Reads a pipe to EOF into one buffer, grown by doubling: at most 1.5x the output is held at once. */
async function readAll(fd: number): Promise<Uint8Array> {
  let buffer = new Uint8Array(64 * 1024);
  let size = 0;
  for await (const chunk of Bun.file(fd).stream()) {
    if (size + chunk.length > buffer.length) {
      let capacity = buffer.length * 2;
      while (capacity < size + chunk.length) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(buffer.subarray(0, size));
      buffer = grown;
    }
    buffer.set(chunk, size);
    size += chunk.length;
  }
  close(fd);
  return buffer.subarray(0, size);
}

export function prepareStdio(config: SandboxConfig): PreparedStdio {
  const childEnds: number[] = [];
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
    const output = (target: typeof config.stdout, what: string): [number, Promise<Uint8Array> | null] => {
      if (target === CAPTURE) {
        const [r, w] = pipe();
        readEnds.push(r);
        return [own(w), readAll(r)];
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
