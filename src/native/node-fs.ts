// node:fs for the modules `run` loads but seldom needs them (cgroups, the
// mount-point journal, re-entering "/"). A static import of node:fs costs
// about a millisecond at every start, used or not; this loads it on first use.
import type * as NodeFs from "node:fs";

let loaded: typeof NodeFs | undefined;

export function nodeFs(): typeof NodeFs {
  return (loaded ??= require("node:fs") as typeof NodeFs);
}
