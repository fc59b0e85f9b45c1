// `sandboxlib check`: what this host supports and why not; a table on a
// terminal, JSON with --json; exit 0 exactly when a default `run -- true`
// works here (the check makes one).
import { usageError } from "../base/errors.ts";
import { probeHost } from "../check/probes.ts";

export async function runCheck(args: readonly string[], out: (text: string) => Promise<void>): Promise<number> {
  let json = false;
  for (const arg of args) {
    if (arg === "--json") json = true;
    else throw usageError(`unknown option: ${arg}`);
  }
  const { probes, defaultBackend, container, advice } = await probeHost();
  if (json) {
    await out(`${JSON.stringify({ ok: defaultBackend !== null, default_backend: defaultBackend, container, checks: probes, advice })}\n`);
  } else {
    const width = Math.max(...probes.map((p) => p.name.length));
    const lines = probes.map((p) => `${p.ok ? "ok " : "no "} ${p.name.padEnd(width)}  ${p.detail}`);
    lines.push("", defaultBackend ? `the default backend (${defaultBackend}) can run here` : "no backend can run here");
    for (const line of advice) lines.push(`- ${line}`);
    await out(`${lines.join("\n")}\n`);
  }
  return defaultBackend !== null ? 0 : 1;
}
