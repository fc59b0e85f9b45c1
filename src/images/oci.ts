// OCI image layouts (directories or tars, as `docker save`, `podman save` or
// `skopeo copy ... oci:` write them) and Docker's older save format: pick the
// image, apply its layers in order with whiteouts, read its config.
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { configError } from "../base/errors.ts";
import { decompressed, readHead, sniffCompression } from "./decompress.ts";
import { extractTar } from "./extract.ts";
import type { ImageDefaults } from "./defaults.ts";

interface Descriptor {
  mediaType?: string;
  digest: string;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

const INDEX_TYPES = new Set(["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]);
const REF_ANNOTATIONS = ["io.containerd.image.name", "org.opencontainers.image.ref.name"];
const GOARCH: Record<string, string> = { x64: "amd64", arm64: "arm64" };

export function isOciLayout(dir: string): boolean {
  return existsSync(join(dir, "oci-layout")) && existsSync(join(dir, "index.json"));
}

export function isDockerArchive(dir: string): boolean {
  return existsSync(join(dir, "manifest.json")) && !existsSync(join(dir, "index.json"));
}

function readJson(path: string, what: string): any {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw configError(`cannot read the image's ${what}: ${(e as Error).message}`);
  }
}

function blobPath(layout: string, digest: string): string {
  const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(digest);
  if (!m) throw configError(`image: invalid digest ${JSON.stringify(digest)}`);
  return join(layout, "blobs", m[1]!, m[2]!);
}

/** Reads a blob and checks it against its digest. */
function readBlob(layout: string, digest: string): Buffer {
  const data = readFileSync(blobPath(layout, digest));
  const [alg, hex] = digest.split(":") as [string, string];
  if (new Bun.CryptoHasher(alg as "sha256" | "sha512").update(data).digest("hex") !== hex) throw configError(`image: blob ${digest} does not match its digest`);
  return data;
}

function refsOf(d: Descriptor): string[] {
  return REF_ANNOTATIONS.map((k) => d.annotations?.[k]).filter((r): r is string => !!r);
}

/** The manifest to use: the one --image-ref names, or the only one. */
function chooseManifest(layout: string, imageRef: string | null): any {
  const index = readJson(join(layout, "index.json"), "index.json");
  let descriptors: Descriptor[] = index.manifests ?? [];
  if (imageRef !== null) {
    const matching = descriptors.filter((d) => refsOf(d).some((r) => r === imageRef || r.endsWith(`/${imageRef}`) || r.endsWith(`:${imageRef}`)));
    if (matching.length === 0) throw configError(`image ref not found: ${imageRef} (the image holds: ${descriptors.flatMap(refsOf).join(", ") || "no named images"})`);
    descriptors = matching;
  }
  if (descriptors.length !== 1) {
    throw configError(`the image index holds ${descriptors.length} images: ${descriptors.flatMap(refsOf).join(", ") || "unnamed"}; pick one with --image-ref`);
  }
  let manifest = JSON.parse(readBlob(layout, descriptors[0]!.digest).toString("utf8"));
  // An index inside: the image for this machine's platform.
  for (let depth = 0; INDEX_TYPES.has(manifest.mediaType) || manifest.manifests; depth++) {
    if (depth > 4) throw configError("image: index nesting too deep");
    const arch = GOARCH[process.arch] ?? process.arch;
    const forHere = (manifest.manifests as Descriptor[]).filter((d) => !d.platform || (d.platform.os === "linux" && d.platform.architecture === arch));
    if (forHere.length === 0) throw configError(`image: no image for linux/${arch} in the index`);
    manifest = JSON.parse(readBlob(layout, forHere[0]!.digest).toString("utf8"));
  }
  return manifest;
}

function defaultsFrom(config: any): ImageDefaults {
  const c = config?.config ?? {};
  const entrypoint: string[] = Array.isArray(c.Entrypoint) ? c.Entrypoint : [];
  const cmd: string[] = Array.isArray(c.Cmd) ? c.Cmd : [];
  const env: [string, string][] = (Array.isArray(c.Env) ? (c.Env as string[]) : []).map((kv) => {
    const i = kv.indexOf("=");
    return i < 0 ? [kv, ""] : [kv.slice(0, i), kv.slice(i + 1)];
  });
  return {
    command: entrypoint.length + cmd.length ? [...entrypoint, ...cmd] : null,
    env,
    cwd: typeof c.WorkingDir === "string" && c.WorkingDir !== "" ? c.WorkingDir : null,
  };
}

/** Applies one layer, checking its digest as it streams (layers can be large). */
async function applyLayer(path: string, root: string, label: string, digest: string | null, signal?: AbortSignal): Promise<void> {
  const raw = createReadStream(path);
  const [alg, hex] = (digest ?? "").split(":");
  const hasher = digest ? new Bun.CryptoHasher(alg as "sha256" | "sha512") : null;
  if (hasher) raw.on("data", (chunk: Buffer | string) => hasher.update(chunk));
  await extractTar(await decompressed(raw, sniffCompression(readHead(path, 8))), root, { layer: true, label, signal });
  if (hasher && hasher.digest("hex") !== hex) throw configError(`image: ${label} does not match its digest`);
}

/** Applies an OCI layout's image to `root`; returns the config's defaults. */
export async function unpackOci(layout: string, root: string, imageRef: string | null, signal?: AbortSignal): Promise<ImageDefaults> {
  const manifest = chooseManifest(layout, imageRef);
  const config = JSON.parse(readBlob(layout, manifest.config.digest).toString("utf8"));
  const layers: Descriptor[] = manifest.layers ?? [];
  for (const [i, layer] of layers.entries()) {
    await applyLayer(blobPath(layout, layer.digest), root, `layer ${i + 1} (${layer.digest.slice(0, 19)})`, layer.digest, signal);
  }
  return defaultsFrom(config);
}

/** Docker's older `docker save` format: manifest.json with Config and Layers paths. */
export async function unpackDockerArchive(dir: string, root: string, imageRef: string | null, signal?: AbortSignal): Promise<ImageDefaults> {
  let images: { Config: string; RepoTags?: string[]; Layers: string[] }[] = readJson(join(dir, "manifest.json"), "manifest.json");
  if (imageRef !== null) images = images.filter((m) => (m.RepoTags ?? []).some((t) => t === imageRef || t.endsWith(`/${imageRef}`)));
  if (images.length !== 1) throw configError(`the archive holds ${images.length} matching images; pick one with --image-ref`);
  const image = images[0]!;
  const safe = (p: string) => {
    if (p.startsWith("/") || p.split("/").includes("..")) throw configError(`image: unsafe path in manifest.json: ${p}`);
    return join(dir, p);
  };
  for (const [i, layer] of image.Layers.entries()) await applyLayer(safe(layer), root, `layer ${i + 1} (${layer})`, null, signal);
  return defaultsFrom(readJson(safe(image.Config), "config"));
}
