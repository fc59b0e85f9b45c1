// Spawning off the JavaScript thread (spawner threads of the helper), in
// this process with the helper build.ts left in dist/native, and the signals of
// sandboxes still being set up. Real clones; no namespaces, so no root.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, O_RDONLY, pipe } from "../../src/native/libc.ts";
import { spawnStepsConcurrently } from "../../src/native/spawn.ts";
import { signalAll, trackStart } from "../../src/supervise/active.ts";
import { decodeStatus, waitForExit } from "../../src/supervise/reaper.ts";

let scratch = "";
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "sandboxlib-spawn-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function fifo(name: string): string {
  const path = join(scratch, name);
  const made = Bun.spawnSync(["mkfifo", path]);
  if (made.exitCode !== 0) throw new Error(`mkfifo ${path} failed`);
  return path;
}

async function exitCodeOf(pid: number): Promise<number | null> {
  return decodeStatus((await waitForExit(pid)).status).code;
}

describe("spawner threads", () => {
  test("a sandbox still being set up blocks neither this thread nor the next sandbox's set-up", async () => {
    // The first set-up blocks in open(2) on a FIFO until this thread opens
    // its other end: a spawn on this thread would never return.
    const path = fifo("held");
    let firstSpawned = false;
    const first = spawnStepsConcurrently([{ op: "open-fd", path, flags: O_RDONLY, mode: 0, fd: -1 }, { op: "exit", status: 3 }], 0);
    void first.then(() => (firstSpawned = true));
    const second = await spawnStepsConcurrently([{ op: "exit", status: 4 }], 0);
    expect(second.failure).toBeNull();
    expect(await exitCodeOf(second.pid)).toBe(4);
    second.release();
    expect(firstSpawned).toBe(false);
    const writer = openSync(path, "w"); // returns once the child has its end open
    closeSync(writer);
    const sandbox = await first;
    expect(sandbox.failure).toBeNull();
    expect(await exitCodeOf(sandbox.pid)).toBe(3);
    sandbox.release();
  });

  test("a set-up that blocks does not hold back the sandboxes spawned just before it", async () => {
    // The blocked child holds a copy of every descriptor of this process
    // until it execs or exits, the wake-up pipe's included: a completion
    // signalled by EOF would wait for it.
    const path = fifo("held-after");
    const first = spawnStepsConcurrently([{ op: "exit", status: 5 }], 0);
    const blocked = spawnStepsConcurrently([{ op: "open-fd", path, flags: O_RDONLY, mode: 0, fd: -1 }, { op: "exit", status: 6 }], 0);
    const sandbox = await first;
    expect(await exitCodeOf(sandbox.pid)).toBe(5);
    sandbox.release();
    closeSync(openSync(path, "w"));
    const other = await blocked;
    expect(await exitCodeOf(other.pid)).toBe(6);
    other.release();
  });

  test("a sandbox being set up holds none of this process's other pipes", async () => {
    // A pipe made before the spawn (another sandbox's capture pipe, say) is
    // in the child's copy of the descriptor table; closed at once, its read
    // end reaches EOF while the child is still blocked in its set-up.
    const path = fifo("held-pipes");
    const [r, w] = pipe();
    const blocked = spawnStepsConcurrently([{ op: "open-fd", path, flags: O_RDONLY, mode: 0, fd: -1 }, { op: "exit", status: 7 }], 0);
    close(w);
    const eof = (async () => {
      for await (const _ of Bun.file(r).stream()) {
        // nothing is written
      }
      return "eof";
    })();
    const first = await Promise.race([eof, Bun.sleep(5000).then(() => "still held")]);
    closeSync(openSync(path, "w"));
    const sandbox = await blocked;
    expect(await exitCodeOf(sandbox.pid)).toBe(7);
    sandbox.release();
    await eof;
    close(r);
    expect(first).toBe("eof");
  });

  test("a failing set-up on a spawner thread reports its step and errno", async () => {
    const sandbox = await spawnStepsConcurrently([{ op: "open-fd", path: join(scratch, "missing"), flags: O_RDONLY, mode: 0, fd: -1 }, { op: "exit", status: 0 }], 0);
    expect(sandbox.failure).toEqual({ index: 0, errno: 2 });
    await waitForExit(sandbox.pid);
    sandbox.release();
  });

  test("more spawns at once than there are spawner threads (64) all run, and their stacks come back for the next", async () => {
    for (const count of [80, 8, 8]) {
      const sandboxes = await Promise.all(Array.from({ length: count }, (_, i) => spawnStepsConcurrently([{ op: "exit", status: i }], 0)));
      expect(await Promise.all(sandboxes.map((s) => exitCodeOf(s.pid)))).toEqual(Array.from({ length: count }, (_, i) => i));
      for (const s of sandboxes) s.release();
    }
  });

  test("spawns awaited one after another each wake up, though the wake-up pipe's reader stops and starts between them", async () => {
    // The reader of the shared wake-up pipe stops whenever no spawn is
    // awaited, and a new one starts with the next spawn, the moment the last
    // one was seen done (while the last reader is being cancelled). A reader
    // that did not start, or a wake-up it missed, would leave an await
    // hanging: the test then times out.
    const sandboxes = [];
    for (let i = 0; i < 300; i++) sandboxes.push(await spawnStepsConcurrently([{ op: "exit", status: i % 7 }], 0));
    expect(await Promise.all(sandboxes.map((s) => exitCodeOf(s.pid)))).toEqual(sandboxes.map((_, i) => i % 7));
    for (const s of sandboxes) s.release();
  });

  test("a process whose sandboxes were spawned off its thread exits by itself once they are done", () => {
    // Nothing of the wake-up pipe's reader may keep the event loop alive.
    const script = join(scratch, "exits.ts");
    writeFileSync(script, `import { spawnStepsConcurrently } from ${JSON.stringify(join(import.meta.dir, "../../src/native/spawn.ts"))};
import { waitForExit } from ${JSON.stringify(join(import.meta.dir, "../../src/supervise/reaper.ts"))};
const sandboxes = await Promise.all([1, 2, 3].map((n) => spawnStepsConcurrently([{ op: "exit", status: n }], 0)));
for (const s of sandboxes) { await waitForExit(s.pid); s.release(); }
console.log("done");
`);
    const r = Bun.spawnSync([process.execPath, script], { timeout: 8_000, stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString()).toBe("done\n");
    expect(r.exitCode).toBe(0);
  }, 15_000);
});

describe("signals of sandboxes being set up", () => {
  test("a signal sent while a sandbox is set up reaches it once it runs", async () => {
    const sleeper = Bun.spawn(["sleep", "30"]);
    const starting = trackStart();
    expect(signalAll(15)).toBe(1);
    const untrack = starting.started(sleeper.pid);
    expect(await sleeper.exited).toBe(143);
    expect(sleeper.signalCode).toBe("SIGTERM");
    untrack();
    expect(signalAll(15)).toBe(0);
  });

  test("an abandoned set-up is no longer counted", () => {
    trackStart().abandoned();
    expect(signalAll(15)).toBe(0);
  });
});
