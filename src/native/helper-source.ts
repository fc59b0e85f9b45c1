// helper.c's text, for compiling it with TinyCC where no precompiled helper
// is at hand. A module of its own, required only then: embedding the text
// in helper.ts cost every start about 0.27 ms to evaluate. TinyCC reads it
// from a memfd, where `#include "sweep.h"` finds nothing: the header's text
// is put in its place.
import helperSource from "./helper.c" with { type: "text" };
import sweepSource from "./sweep.h" with { type: "text" };

export default helperSource.replace('#include "sweep.h"', () => sweepSource);
