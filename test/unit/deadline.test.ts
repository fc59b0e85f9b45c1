// Deadlines of any length (issue 13, item 7): never early, no overflow warning.
import { describe, expect, test } from "bun:test";
import { MAX_TIMER_MS, nextPieceMs, startDeadline, type TimerApi } from "../../src/supervise/deadline.ts";

/** A clock that moves only when the test says, and the timers armed on it. */
function fakeTimers() {
  let now = 1000;
  const armed: { at: number; ms: number; callback: () => void }[] = [];
  const api: TimerApi = {
    now: () => now,
    set: (callback, ms) => {
      const t = { at: now + ms, ms, callback };
      armed.push(t);
      return t;
    },
    clear: (t) => armed.splice(armed.indexOf(t as (typeof armed)[number]), 1),
  };
  /** Moves the clock to the next armed timer and runs it. */
  const step = () => {
    const t = armed.shift()!;
    now = t.at;
    t.callback();
    return t.ms;
  };
  return { api, armed, step, now: () => now };
}

describe("deadline", () => {
  test("a piece is never longer than setTimeout allows", () => {
    expect(nextPieceMs(5)).toBe(5);
    expect(nextPieceMs(3e12)).toBe(MAX_TIMER_MS);
    expect(nextPieceMs(-1)).toBe(0);
  });

  test("3000000 s is waited for in pieces and fires once, at the deadline", () => {
    const clock = fakeTimers();
    let fired = 0;
    startDeadline(3_000_000, () => fired++, clock.api);
    const start = clock.now();
    const pieces: number[] = [];
    while (clock.armed.length) pieces.push(clock.step());
    expect(fired).toBe(1);
    expect(clock.now() - start).toBe(3_000_000_000);
    expect(pieces.length).toBe(2);
    expect(Math.max(...pieces)).toBeLessThanOrEqual(MAX_TIMER_MS);
  });

  test("a timer that fires early is armed again for the rest", () => {
    const clock = fakeTimers();
    let fired = 0;
    startDeadline(1, () => fired++, clock.api);
    const t = clock.armed.shift()!;
    t.callback(); // the clock has not moved: too early
    expect(fired).toBe(0);
    expect(clock.armed.map((a) => a.ms)).toEqual([1000]);
  });

  test("cancel stops it", () => {
    const clock = fakeTimers();
    let fired = 0;
    startDeadline(1e9, () => fired++, clock.api).cancel();
    expect(clock.armed).toEqual([]);
    expect(fired).toBe(0);
  });

  test("with the real timers, 1e9 s does not fire at once and warns about nothing", async () => {
    const warnings: unknown[] = [];
    const onWarning = (w: unknown) => warnings.push(w);
    process.on("warning", onWarning);
    let fired = false;
    const deadline = startDeadline(1e9, () => (fired = true));
    await Bun.sleep(50);
    deadline.cancel();
    process.off("warning", onWarning);
    expect(fired).toBe(false);
    expect(warnings).toEqual([]);
  });
});
