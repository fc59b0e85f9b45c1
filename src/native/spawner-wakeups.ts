// How the JavaScript thread learns that spawner threads (spawner.c,
// sbx_spawn_async) are done with its spawns: each clears a word of its spawn
// record and writes a byte to one wake-up pipe shared by every spawn; one
// reader of that pipe, on this thread, settles the spawns whose word is
// cleared. A pipe and a stream per spawn cost a pipe2, a Bun stream (a dup,
// fstat, fcntl, two epoll_ctl) and their teardown for every sandbox.
import { helper } from "./helper.ts";
import { OFFSETS } from "./offsets.ts";

/** async_pending in struct sbx_spawn, as a 32-bit word's index: nonzero while a spawner thread has the spawn. */
const ASYNC_PENDING = OFFSETS.spawn.async_pending / 4;

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

/** Spawns handed to spawner threads and not yet seen done, by their record. */
const awaiting = new Map<Uint32Array, Waiter>();
/**
 * Sandboxes spawned off this thread and not yet released: the reader runs
 * on while there are any, since more spawns are then likely (a batch), and
 * a reader started afresh costs a Bun stream.
 */
let live = 0;
/** The running reader, to stop it; and what settles once it has let go of the pipe. */
let watcher: { stop(): void; gone: Promise<void> } | null = null;
let watcherGone: Promise<void> | null = null;

/** Settles every awaited spawn whose spawner thread is done with it. */
function settleDone(): void {
  for (const [record, waiter] of awaiting) {
    if (record[ASYNC_PENDING] !== 0) continue;
    awaiting.delete(record);
    waiter.resolve();
  }
}

const watching = () => awaiting.size > 0 || live > 0;

/**
 * Reads the helper's wake-up pipe (one for all spawns) while spawns are
 * awaited or their sandboxes live, settling the spawns that are done after
 * each wake-up. Looks before it reads: a stream that is cancelled may have
 * taken a byte with it, so a reader starts only once the last one is gone,
 * and then looks first.
 */
function watchSpawns(fd: number, after: Promise<void> | null): { stop(): void; gone: Promise<void> } {
  let reader: { read(): Promise<{ done: boolean }>; cancel(): Promise<void> } | undefined;
  let stopped = false;
  const handle = {
    stop() {
      // The next spawn starts a reader of its own, once this one is gone.
      stopped = true;
      if (watcher === handle) watcher = null;
      void reader?.cancel().catch(() => {});
    },
    gone: Promise.resolve(),
  };
  handle.gone = (async () => {
    await after;
    try {
      if (stopped) return;
      const wakeups = (reader = Bun.file(fd).stream().getReader());
      for (settleDone(); watching(); settleDone()) {
        if ((await wakeups.read()).done) {
          if (stopped) return;
          throw new Error("the spawn wake-up pipe was closed");
        }
      }
    } catch (e) {
      // Never rejects: the next reader waits for this one.
      for (const waiter of awaiting.values()) waiter.reject(e);
      awaiting.clear();
    } finally {
      if (watcher === handle) watcher = null;
      await reader?.cancel().catch(() => {});
    }
  })();
  return handle;
}

/** Starts the reader if none runs. */
function watch(): void {
  if (watcher) return;
  watcher = watchSpawns(Number(helper().sbx_spawn_wake_fd()), watcherGone);
  watcherGone = watcher.gone;
}

/** Stops the reader once nothing needs it (it may be waiting for a byte that will not come). */
function unwatchIfIdle(): void {
  if (!watching()) watcher?.stop();
}

/** Resolves once the spawner thread is done with the spawn whose record (as 32-bit words) is `record` (sbx_spawn_async). */
export function spawnDone(record: Uint32Array): Promise<void> {
  const done = new Promise<void>((resolve, reject) => awaiting.set(record, { resolve, reject }));
  watch();
  return done;
}

/** Counts a sandbox spawned off this thread as live; returns what says it is released (once). */
export function sandboxLives(): () => void {
  live++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    live--;
    unwatchIfIdle();
  };
}
