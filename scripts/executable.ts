// How a Bun program becomes a single executable here: dist/sandboxlib by
// build.ts, and the empty program the benchmark measures Bun's own start-up
// with (the same options, so that the two are comparable).

export async function compileExecutable(entrypoint: string, outfile: string, define: Record<string, string> = {}): Promise<void> {
  const result = await Bun.build({
    entrypoints: [entrypoint],
    // The executable must not read the caller's bunfig.toml, .env, package.json
    // or tsconfig.json: they are not ours, and reading them costs start-up time.
    // JavaScriptCore compiles a function to machine code once it has run a
    // few hundred times; most of a `run` is code that runs once, and
    // compiling it costs more than it saves (about 0.4 ms of a cold run here).
    // Ten times the usual counts keep such code in the interpreter; a batch's
    // per-sandbox code, run thousands of times, still gets compiled.
    //
    // Bun reads BUN_OPTIONS before any of our code, in a compiled executable
    // too, and no build option turns that off. With code generation from
    // strings disallowed ("strict"), it refuses a --preload, --import or
    // --require given there (Bun's docs, runtime/code-generation-from-strings:
    // "refused: Bun prints the error and exits"), so no foreign file runs
    // inside sandboxlib; src/cli/engine.ts refuses the rest of BUN_OPTIONS.
    // sandboxlib itself never makes code from strings (no eval, no
    // new Function, in its dependencies neither).
    compile: {
      outfile,
      execArgv: ["--disallow-code-generation-from-strings=strict"],
      autoloadBunfig: false,
      autoloadDotenv: false,
      autoloadPackageJson: false,
      autoloadTsconfig: false,
      jitPolicy: 10,
    },
    // Code reached only through a dynamic import (images, batch, check) is a
    // chunk of its own, loaded on first use: a plain `run` does not pay to load
    // tar-stream and the decompressors.
    splitting: true,
    minify: true,
    bytecode: true,
    format: "esm",
    sourcemap: "none",
    define,
  });
  if (!result.success) throw new AggregateError(result.logs, `cannot build ${outfile} from ${entrypoint}`);
}
