// Archives by content, not by name: the first bytes tell gzip, xz, zstd,
// bzip2 or a plain tar. Decoders are well-kept libraries, not hand-written:
// node:zlib (gzip, zstd; built into Bun), xz-decompress (liblzma's decoder
// compiled to WebAssembly: no native addon to build), unbzip2-stream (pure JS).
//
// Every decoder (and node:zlib itself, which takes Bun about 2.5 ms to load)
// is imported when an archive needs it, never at start-up.
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import type { Readable } from "node:stream";

export type Compression = "gzip" | "xz" | "zstd" | "bzip2" | "none";

const MAGIC: [Compression, number[]][] = [
  ["gzip", [0x1f, 0x8b]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["bzip2", [0x42, 0x5a, 0x68]],
];

export function sniffCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) if (magic.every((b, i) => head[i] === b)) return kind;
  return "none";
}

/** The first bytes of a file (fewer when it is shorter). */
export function readHead(path: string, length = 512): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(length);
    return buf.subarray(0, readSync(fd, buf, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

/** A plain tar has "ustar" at offset 257 (POSIX and GNU variants). */
export function looksLikeTar(head: Uint8Array): boolean {
  return head.length >= 262 && Buffer.from(head.subarray(257, 262)).toString("latin1") === "ustar";
}

/** A stream of the decompressed bytes of `source`, as the data says. */
export async function decompressed(source: Readable, compression: Compression): Promise<Readable> {
  switch (compression) {
    case "gzip":
      return source.pipe((await import("node:zlib")).createGunzip());
    case "zstd":
      return source.pipe((await import("node:zlib")).createZstdDecompress());
    case "bzip2": {
      // @ts-expect-error: unbzip2-stream ships no type declarations.
      const unbzip2 = (await import("unbzip2-stream")).default as () => NodeJS.ReadWriteStream;
      return source.pipe(unbzip2()) as unknown as Readable;
    }
    case "xz": {
      const { XzReadableStream } = await import("xz-decompress");
      const { Readable } = await import("node:stream");
      return Readable.fromWeb(new XzReadableStream(Readable.toWeb(source) as ReadableStream<Uint8Array>) as never);
    }
    case "none":
      return source;
  }
}

/** Opens a (maybe compressed) archive file; `onBytes` counts what is read from disk. */
export function openArchive(path: string, onBytes?: (n: number) => void): Promise<Readable> {
  const raw = createReadStream(path);
  if (onBytes) raw.on("data", (chunk: Buffer | string) => onBytes(chunk.length));
  return decompressed(raw, sniffCompression(readHead(path, 8)));
}
