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
