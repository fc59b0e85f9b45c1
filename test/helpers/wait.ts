// Waiting for something that happens in another process, without asserting
// a wall-clock time: the test fails only if it never happens (10 s).
export async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await Bun.sleep(20);
  }
  throw new Error(`never happened: ${what}`);
}
