// The root filesystem every variant runs in: a static busybox with its
// applets linked, and empty mount points for /proc, /dev and /tmp, so that no
// variant pays for creating them.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { track } from "./cleanup.ts";
import { output } from "./proc.ts";

const BUSYBOX = "/usr/bin/busybox";

/** Creates the root filesystem in a temporary directory (removed by cleanup). */
export function makeRootfs(): string {
  const root = track(mkdtempSync(join(tmpdir(), "sandboxlib-bench-root-")));
  chmodSync(root, 0o755);
  for (const dir of ["bin", "proc", "tmp", "dev"]) mkdirSync(join(root, dir));
  chmodSync(join(root, "tmp"), 0o1777);
  copyFileSync(BUSYBOX, join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  const applets = output([BUSYBOX, "--list"], 10_000).split("\n").filter((a) => a !== "" && a !== "busybox");
  for (const applet of applets) symlinkSync("busybox", join(root, "bin", applet));
  return root;
}
