// The option table is the one declaration of every option: the README's
// table, --help, the command-line parser and the config-file reader all
// follow it.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { settingsFromConfig } from "../../src/cli/config-file.ts";
import { RUN_HELP } from "../../src/cli/help.ts";
import { BY_KEY, isFlag, OPTIONS, REQUEST_FLAGS } from "../../src/cli/option-table.ts";
import { parseCommandLine } from "../../src/cli/parse.ts";
import { FLAG_OPTIONS, VALUE_OPTIONS } from "../../src/cli/settings.ts";
import { README, withOptionTable } from "../../scripts/readme-options.ts";

describe("the option table", () => {
  test("README.md's option table is the generated one (fix: bun scripts/readme-options.ts)", () => {
    const readme = readFileSync(README, "utf8");
    expect(withOptionTable(readme)).toBe(readme);
  });

  test("each flag and each config key is declared once", () => {
    const flags = OPTIONS.flatMap((o) => (o.flag ? [o.flag] : []));
    const keys = OPTIONS.flatMap((o) => (o.key ? [o.key] : []));
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test("run --help lists every flag; the parser knows every flag", () => {
    for (const o of OPTIONS) {
      if (!o.flag) continue;
      expect(RUN_HELP).toContain(`  ${o.flag}${o.arg ? ` ${o.arg}` : ""}`);
      if (REQUEST_FLAGS.includes(o.flag)) continue;
      expect(isFlag(o) ? FLAG_OPTIONS.has(o.flag) : VALUE_OPTIONS.has(o.flag)).toBe(true);
    }
  });

  test("every option has a way in: a flag with a check, or a config key with a reader", () => {
    for (const o of OPTIONS) {
      if (o.flag && !REQUEST_FLAGS.includes(o.flag)) expect([o.flag, typeof o.set]).toEqual([o.flag, "function"]);
      if (o.key) expect([o.key, o.set !== undefined || o.json !== undefined]).toEqual([o.key, true]);
    }
  });

  test("a flag's config key takes what the flag takes, and fails the same way", () => {
    // One value per option that the flag accepts, and one it refuses.
    const samples: Record<string, [good: unknown, bad: unknown]> = {
      backend: ["linux", ""], hostname: ["b1", ""], "image-ref": ["x", ""], "keep-root": ["/k", ""], mount: ["none:/p:proc", "x"],
      bind: ["/a:/b", "nocolon"], "ro-bind": ["/a:/b", ":/x"], proc: ["/proc", ""], tmpfs: ["/tmp", ""], dev: ["/dev", ""],
      writable: ["/w", ""], "writable-create": ["/w", ""], stdin: ["null", ""], "status-fd": [5, "x"], timeout: [1.5, 0], "kill-after": [2, -1], "pass-fd": [3, 2],
      "cap-add": ["NET_ADMIN", "NOPE"], "cap-drop": ["ALL", "NOPE"], uid: [1000, "x"], gid: [0, -5], seccomp: ["off", "maybe"],
      rlimit: ["nofile=64", "nofile"], memory: ["64M", "lots"], pids: [10, 0], cpus: [0.5, "none"],
    };
    for (const o of OPTIONS) {
      if (!o.flag || !o.key || o.json || isFlag(o) || o.flag === "--config") continue;
      const sample = samples[o.key];
      expect([o.key, sample !== undefined]).toEqual([o.key, true]);
      const [good, bad] = sample!;
      expect(() => settingsFromConfig({ [o.key!]: good })).not.toThrow();
      expect(() => parseCommandLine(["run", `${o.flag}=${good}`, "true"])).not.toThrow();
      let cliMessage = "";
      try {
        parseCommandLine(["run", `${o.flag}=${bad}`, "true"]);
      } catch (e) {
        cliMessage = (e as Error).message;
      }
      expect([o.key, cliMessage !== ""]).toEqual([o.key, true]);
      expect(() => settingsFromConfig({ [o.key!]: bad })).toThrow(`${o.key}: ${cliMessage}`);
    }
    expect(BY_KEY.get("filesystem_root")?.flag).toBe("--root");
  });
});
