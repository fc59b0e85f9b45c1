// The record offsets of src/native/layout.ts, as the runtime reads them.
// build.ts computes them and puts them in the executable as a literal:
// computing the tables at every start cost about 0.25 ms of a cold run. Run
// from the sources, they are computed from the tables on first import.
import type { RuntimeOffsets } from "./layout.ts";

declare const SANDBOXLIB_OFFSETS: RuntimeOffsets;

export const OFFSETS: RuntimeOffsets =
  typeof SANDBOXLIB_OFFSETS === "object" ? SANDBOXLIB_OFFSETS : (require("./layout.ts") as typeof import("./layout.ts")).runtimeOffsets();
