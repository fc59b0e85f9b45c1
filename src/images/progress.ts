// A progress bar for unpacking, on stderr when it is a terminal, else nothing.
import { isatty, writeText } from "../native/libc.ts";

export interface Progress {
  add(bytes: number): void;
  done(): void;
}

const SILENT: Progress = { add() {}, done() {} };
const MiB = 1024 * 1024;

export function progressBar(label: string, total: number): Progress {
  // Small archives unpack before a bar would be seen.
  if (!isatty(2) || total < 16 * MiB) return SILENT;
  let seen = 0;
  let last = 0;
  const draw = () => {
    const width = 30;
    const fraction = Math.min(1, seen / total);
    const bar = "#".repeat(Math.round(fraction * width)).padEnd(width, " ");
    writeText(2, `\r${label} [${bar}] ${Math.round(fraction * 100)}% ${(seen / MiB).toFixed(0)}/${(total / MiB).toFixed(0)} MiB`);
  };
  return {
    add(bytes) {
      seen += bytes;
      const now = performance.now();
      if (now - last > 100) {
        last = now;
        draw();
      }
    },
    done() {
      draw();
      writeText(2, "\n");
    },
  };
}
