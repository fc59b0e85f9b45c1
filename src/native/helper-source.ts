// helper.c's text, for compiling it with TinyCC where no precompiled helper
// is at hand. A module of its own, required only then: embedding the text
// in helper.ts cost every start about 0.27 ms to evaluate.
import helperSource from "./helper.c" with { type: "text" };

export default helperSource;
