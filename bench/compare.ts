// Two builds of sandboxlib compared cold, in one run: `bun bench/compare.ts
// OLD NEW [ROUNDS]`. Both are copied at the same moment (an executable
// written long ago starts slower on this VM, see README.md), then run
// interleaved with bwrap on the bench's root filesystem and isolation; medians
// and ratios to bwrap are printed. For before/after figures of a change.
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupAll, track } from "./cleanup.ts";
import { runCold } from "./cold.ts";
import { makeRootfs } from "./rootfs.ts";

const [oldBin, newBin, roundsArg] = process.argv.slice(2);
if (!oldBin || !newBin) {
  console.error("usage: bun bench/compare.ts OLD_EXECUTABLE NEW_EXECUTABLE [ROUNDS]");
  process.exit(2);
}
const rounds = Number(roundsArg ?? 200);
try {
  const dir = track(mkdtempSync(join(tmpdir(), "sandboxlib-compare-")));
  const copies = [oldBin, newBin].map((bin, i) => {
    const copy = join(dir, `sandboxlib-${i}`);
    copyFileSync(bin, copy);
    return copy;
  });
  const root = makeRootfs();
  const isolation = (bin: string) => [bin, "run", "--root", root, "--network", "isolated", "--proc", "/proc", "--read-only", "--", "/bin/true"];
  const result = await runCold(
    [
      { key: "old", label: `old ${oldBin}`, argv: isolation(copies[0]!) },
      { key: "new", label: `new ${newBin}`, argv: isolation(copies[1]!) },
      { key: "bwrap", label: "bwrap", argv: ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", root, "/", "--proc", "/proc", "/bin/true"] },
    ],
    rounds,
    10,
    (line) => console.error(line),
  );
  const bwrap = result.variants.find((v) => v.key === "bwrap")!.ms.median;
  for (const v of result.variants) {
    console.log(`${v.label.padEnd(40)} median ${v.ms.median.toFixed(2)} ms  p90 ${v.ms.p90.toFixed(2)} ms  ${(v.ms.median / bwrap).toFixed(2)}x bwrap`);
  }
} finally {
  cleanupAll();
}
