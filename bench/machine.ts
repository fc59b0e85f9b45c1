// What the figures were measured on: they mean little without it.
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { output } from "./proc.ts";

export interface MachineInfo {
  date: string;
  kernel: string;
  nproc: number;
  cpu_model: string | null;
  memory_total_kib: number | null;
  bun: string;
  sandboxlib: string;
  bwrap: string;
  git_commit: string | null;
  /** 1-minute load average when the benchmark started: other work skews every figure. */
  load_average_1m: number;
}

function tryOutput(argv: string[]): string | null {
  try {
    return output(argv, 10_000).trim();
  } catch {
    return null;
  }
}

function procField(file: string, name: string): string | null {
  const line = readFileSync(file, "utf8")
    .split("\n")
    .find((l) => l.startsWith(name));
  return line?.split(":").slice(1).join(":").trim() ?? null;
}

export function machineInfo(bin: string, repo: string): MachineInfo {
  const mem = procField("/proc/meminfo", "MemTotal");
  return {
    date: new Date().toISOString(),
    kernel: output(["uname", "-r"], 10_000).trim(),
    nproc: Number(output(["nproc"], 10_000).trim()),
    cpu_model: procField("/proc/cpuinfo", "model name"),
    memory_total_kib: mem ? Number.parseInt(mem, 10) : null,
    bun: Bun.version,
    sandboxlib: output([bin, "--version"], 10_000).trim(),
    bwrap: tryOutput(["bwrap", "--version"]) ?? "unknown",
    git_commit: tryOutput(["git", "-C", repo, "rev-parse", "HEAD"]),
    load_average_1m: loadavg()[0]!,
  };
}
