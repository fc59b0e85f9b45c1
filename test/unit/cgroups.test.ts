// The pure parts of cgroup limits and measurement: the memory minimum, what
// counts as the command's own OOM kill and peak, and how refusals read.
import { describe, expect, test } from "bun:test";
import { MIN_MEMORY, toSandboxConfig } from "../../src/config/options.ts";
import { counter, killedForMemory, limitOptions, unwritableCause } from "../../src/supervise/cgroups.ts";

describe("the memory minimum", () => {
  test("6 MiB: refused below, with --memory, the value and the minimum named", () => {
    expect(MIN_MEMORY).toBe(6 * 1024 * 1024);
    for (const bytes of [1, 512, 4096, 16384, MIN_MEMORY - 1]) {
      expect(() => toSandboxConfig("true", { memory: bytes })).toThrow(
        `invalid value for --memory: ${bytes} bytes (below the minimum of 6291456 bytes, 6M, that a sandbox needs to start)`,
      );
    }
    expect(toSandboxConfig("true", { memory: MIN_MEMORY }).limits.memory).toBe(MIN_MEMORY);
    expect(toSandboxConfig("true", {}).limits.memory).toBeNull();
  });

  test("the refusal is a configuration error (exit 125)", () => {
    try {
      toSandboxConfig("true", { memory: 512 });
      throw new Error("not refused");
    } catch (e) {
      expect(e).toMatchObject({ kind: "config", exitCode: 125 });
    }
  });
});

describe("the command's own OOM kill", () => {
  const facts = { overLimit: false, oomKills: 0, signal: null as number | null, killedByTimeout: false };

  test("SIGKILL while the kernel OOM-killed in its cgroup", () => {
    expect(killedForMemory({ ...facts, oomKills: 1, signal: 9 })).toBe(true);
  });

  test("a child OOM-killed while the command exits on its own (3) or dies otherwise: not the command's", () => {
    expect(killedForMemory({ ...facts, oomKills: 2, signal: null })).toBe(false);
    expect(killedForMemory({ ...facts, oomKills: 2, signal: 15 })).toBe(false);
  });

  test("SIGKILL with no OOM kill, or sent by the timeout: not for memory", () => {
    expect(killedForMemory({ ...facts, signal: 9 })).toBe(false);
    expect(killedForMemory({ ...facts, oomKills: 1, signal: 9, killedByTimeout: true })).toBe(false);
  });

  test("over the limit when it was set: killed for memory, unless the command was done by then", () => {
    expect(killedForMemory({ ...facts, overLimit: true, signal: 9 })).toBe(true);
    expect(killedForMemory({ ...facts, overLimit: true, signal: null })).toBe(false);
  });

  test("oom_kill counters of memory.events (v2) and memory.oom_control (v1)", () => {
    expect(counter("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n", "oom_kill")).toBe(1);
    expect(counter("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill")).toBe(3);
    expect(counter("oom_kill_disable 0\nunder_oom 0\n", "oom_kill")).toBe(0);
    expect(counter(null, "oom_kill")).toBe(0);
  });
});

describe("refusals where cgroups cannot be written", () => {
  test("the options named as the user gave them", () => {
    expect(limitOptions({ memory: 1, pids: null, cpus: null })).toBe("--memory");
    expect(limitOptions({ memory: 1, pids: 2, cpus: null })).toBe("--memory and --pids");
    expect(limitOptions({ memory: 1, pids: 2, cpus: 1 })).toBe("--memory, --pids and --cpus");
  });

  test("read-only and permission-denied cgroups: the cause and the remedy", () => {
    expect(unwritableCause("EROFS", "/sys/fs/cgroup/memory", "--memory")).toBe(
      "cgroups are read-only at /sys/fs/cgroup/memory (as in a container by default): give the container writable cgroups (docker run --cgroupns=private, or --privileged), or drop --memory",
    );
    expect(unwritableCause("EACCES", "/sys/fs/cgroup", "--pids")).toStartWith("cgroups at /sys/fs/cgroup are not writable here (permission denied)");
    expect(unwritableCause("EBUSY", "/sys/fs/cgroup", "--pids")).toBeNull();
  });
});
