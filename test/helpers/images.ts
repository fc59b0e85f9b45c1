// Real test images built from a root filesystem directory: tarballs in each
// compression, an OCI layout with two layers (a whiteout and an opaque
// directory), its tar form, and an App Container image. Hostile tarballs are
// crafted entry by entry with tar-stream.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-stream";

function sh(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
}

/** rootfs packed as .tar, .tar.gz, .tar.xz, .tar.zst, .tar.bz2 (named misleadingly: detection is by content). */
export function rootfsTarballs(rootfs: string, dir: string): Record<string, string> {
  const plain = join(dir, "rootfs.tar");
  sh(["tar", "-C", rootfs, "-cf", plain, "."]);
  const out: Record<string, string> = { plain };
  for (const [kind, cmd] of [["gzip", ["gzip", "-c"]], ["xz", ["xz", "-c"]], ["zstd", ["zstd", "-q", "-c"]], ["bzip2", ["bzip2", "-c"]]] as const) {
    const target = join(dir, `rootfs-${kind}.img`); // no telling extension
    const r = Bun.spawnSync([...cmd, plain], { stdout: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd[0]} failed`);
    writeFileSync(target, r.stdout);
    out[kind] = target;
  }
  return out;
}

const sha256 = (data: Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

function blob(layout: string, data: Uint8Array): { digest: string; size: number } {
  const hex = sha256(data);
  writeFileSync(join(layout, "blobs/sha256", hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/**
 * An OCI layout: layer 1 is the rootfs plus /etc/doomed and /opq/old; layer 2
 * (gzip) whites out /etc/doomed, makes /opq opaque and adds /opq/new.
 */
export function ociLayout(rootfs: string, dir: string, refs: string[] = ["example.com/test:1"]): string {
  const layout = join(dir, "oci");
  mkdirSync(join(layout, "blobs/sha256"), { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "sandboxlib-oci-"));
  try {
    const l1 = join(work, "l1");
    cpSync(rootfs, l1, { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(l1, "etc/doomed"), "lower\n");
    mkdirSync(join(l1, "opq"));
    writeFileSync(join(l1, "opq/old"), "lower\n");
    mkdirSync(join(l1, "work"));
    sh(["tar", "-C", l1, "-cf", join(work, "l1.tar"), "."]);
    const l2 = join(work, "l2");
    mkdirSync(join(l2, "etc"), { recursive: true });
    writeFileSync(join(l2, "etc/.wh.doomed"), "");
    mkdirSync(join(l2, "opq"));
    writeFileSync(join(l2, "opq/.wh..wh..opq"), "");
    writeFileSync(join(l2, "opq/new"), "upper\n");
    sh(["tar", "-C", l2, "-czf", join(work, "l2.tar.gz"), "."]);
    const layer1 = blob(layout, readFileSync(join(work, "l1.tar")));
    const layer2 = blob(layout, readFileSync(join(work, "l2.tar.gz")));
    const config = blob(layout, Buffer.from(JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Env: ["PATH=/bin", "IMAGE_VAR=from-image"], Entrypoint: ["/bin/sh", "-c"], Cmd: ['echo "cmd in $(pwd) with $IMAGE_VAR"'], WorkingDir: "/work" },
      rootfs: { type: "layers", diff_ids: [] },
    })));
    const manifests = refs.map(() => {
      const manifest = blob(layout, Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [
          { mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer1 },
          { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer2 },
        ],
      })));
      return manifest;
    });
    writeFileSync(join(layout, "index.json"), JSON.stringify({
      schemaVersion: 2,
      manifests: manifests.map((m, i) => ({ mediaType: "application/vnd.oci.image.manifest.v1+json", ...m, annotations: { "org.opencontainers.image.ref.name": refs[i] } })),
    }));
    writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    return layout;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The layout as one tar, as `docker save` or `podman save` write it. */
export function tarOf(dir: string, out: string): string {
  sh(["tar", "-C", dir, "-cf", out, "."]);
  return out;
}

/** An App Container image: manifest + rootfs/. */
export function aciImage(rootfs: string, dir: string): string {
  const work = mkdtempSync(join(tmpdir(), "sandboxlib-aci-"));
  try {
    cpSync(rootfs, join(work, "rootfs"), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(work, "rootfs/app"), { recursive: true });
    writeFileSync(join(work, "manifest"), JSON.stringify({
      acKind: "ImageManifest",
      acVersion: "0.8.11",
      name: "example.com/aci-test",
      app: {
        exec: ["/bin/sh", "-c", 'echo "aci $AC_APP_NAME in $(pwd) PATH=$PATH FOO=$FOO"'],
        workingDirectory: "/app",
        environment: [{ name: "FOO", value: "bar" }],
        user: "0",
        group: "0",
      },
    }));
    const out = join(dir, "test.aci");
    sh(["tar", "-C", work, "-czf", out, "manifest", "rootfs"]);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

type Entry = {
  name: string;
  type?: "file" | "symlink" | "link" | "directory" | "character-device" | "fifo";
  linkname?: string;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  devmajor?: number;
  devminor?: number;
};

/** A tarball with exactly these entries. */
export async function craftedTar(path: string, entries: Entry[]): Promise<string> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on("end", () => resolve()));
  for (const e of entries) {
    const type = e.type ?? "file";
    const header = {
      name: e.name,
      type,
      linkname: e.linkname,
      mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      devmajor: e.devmajor,
      devminor: e.devminor,
    };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === "file") pack.entry(header, e.content ?? "x\n", cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  writeFileSync(path, Buffer.concat(chunks));
  return path;
}
