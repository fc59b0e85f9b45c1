// App Container images (.aci), the original run-sandbox input: a tar with
// "manifest" (JSON) and "rootfs/".
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { configError } from "../base/errors.ts";
import type { ImageDefaults } from "./defaults.ts";

/** The App Container spec's default PATH, for apps whose environment lacks one. */
export const ACI_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function isAciLayout(dir: string): boolean {
  return existsSync(join(dir, "manifest")) && existsSync(join(dir, "rootfs")) && statSync(join(dir, "rootfs")).isDirectory();
}

export function aciDefaults(dir: string): ImageDefaults {
  let manifest: any;
  try {
    manifest = JSON.parse(readFileSync(join(dir, "manifest"), "utf8"));
  } catch (e) {
    throw configError(`cannot read the ACI manifest: ${(e as Error).message}`);
  }
  if (manifest?.acKind !== "ImageManifest") throw configError("ACI manifest: acKind is not ImageManifest");
  const app = manifest.app ?? {};
  const env: [string, string][] = (Array.isArray(app.environment) ? app.environment : []).map((e: { name: string; value: string }) => [String(e.name), String(e.value)]);
  if (!env.some(([k]) => k === "PATH")) env.push(["PATH", ACI_DEFAULT_PATH]);
  env.push(["AC_APP_NAME", String(manifest.name ?? "")]);
  return {
    command: Array.isArray(app.exec) && app.exec.length ? app.exec.map(String) : null,
    env,
    cwd: typeof app.workingDirectory === "string" && app.workingDirectory !== "" ? app.workingDirectory : null,
  };
}
