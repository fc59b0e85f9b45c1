// One error type for everything sandboxlib refuses or fails to do, carrying
// the exit status the command line reports (GNU chroot's conventions).

export const EXIT_SETUP_FAILED = 125;
export const EXIT_CANNOT_EXECUTE = 126;
export const EXIT_NOT_FOUND = 127;

export type SandboxErrorKind =
  | "usage" // bad option or value on the command line
  | "config" // a setting that is invalid or unsupported by the backend
  | "setup" // the sandbox could not be built (mount, pivot_root, ...)
  | "output" // captured output beyond what a result can hold
  | "not-executable" // the command exists but cannot be executed
  | "not-found"; // the command does not exist in the sandbox

export class SandboxError extends Error {
  override readonly name = "SandboxError";
  constructor(
    readonly kind: SandboxErrorKind,
    message: string,
    /** For setup failures: the step that failed ("mount proc on /proc"). */
    readonly step: string | null = null,
  ) {
    super(message);
  }

  get exitCode(): number {
    if (this.kind === "not-found") return EXIT_NOT_FOUND;
    if (this.kind === "not-executable") return EXIT_CANNOT_EXECUTE;
    return EXIT_SETUP_FAILED;
  }
}

/** sandboxlib was told to stop (SIGINT, SIGTERM, ...) before the command started. */
export class InterruptedError extends SandboxError {
  constructor(
    readonly signal: number,
    what: string,
  ) {
    super("setup", `interrupted by signal ${signal} while ${what}`);
  }

  override get exitCode(): number {
    return 128 + this.signal;
  }
}

export const usageError = (message: string) => new SandboxError("usage", message);
export const configError = (message: string) => new SandboxError("config", message);

/** Characters that would break a message's one line, or hide in it. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, "g");

const escapeChar = (c: string) => JSON.stringify(c).slice(1, -1).replace(/^[^\\]$/, () => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/**
 * A value the user gave, as a message shows it: as it is when it is plain
 * text, else JSON-escaped in quotes (`"a\nb"`), so that a message is one line
 * and says exactly what was given.
 */
export function shownValue(value: string): string {
  return UNPRINTABLE.test(value) ? quoted(value) : value;
}

/** `value` as a JSON string, with DEL, C1 controls and line separators escaped too. */
export function quoted(value: string): string {
  return JSON.stringify(value).replace(UNPRINTABLE_ALL, escapeChar);
}

/** A message made one line whatever it quotes: control characters escaped as in JSON. */
export function oneLine(message: string): string {
  return message.replace(UNPRINTABLE_ALL, escapeChar);
}
