// What an image says about how to run it; the command line overrides each.
export interface ImageDefaults {
  /** Entrypoint + Cmd (OCI), app.exec (ACI); null when the image says nothing. */
  command: string[] | null;
  /** The image's environment; used instead of sandboxlib's own. */
  env: [string, string][];
  cwd: string | null;
}

export const NO_DEFAULTS: ImageDefaults = { command: null, env: [], cwd: null };
