// Runs the compiled executable, as a build engineer would.
import { existsSync } from "node:fs";
import { join } from "node:path";

export const BIN = join(import.meta.dir, "../../dist/sandboxlib");

export function requireBinary(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build it first (bun build.ts, or npm test)`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[],
  options: { stdin?: string | null; env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<CliResult> {
  requireBinary();
  const proc = Bun.spawn([BIN, ...args], {
    stdin: options.stdin === undefined || options.stdin === null ? "ignore" : Buffer.from(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...options.env } as Record<string, string>,
    cwd: options.cwd,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
