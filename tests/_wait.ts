// Bounded waits for tests: every wait ends, and one that runs out of time fails naming what it
// waited for (a regression fails the test instead of hanging CI). No imports: any test may use it.

/** The error of a wait that ran out of time. */
function timedOut(ms: number, what: string, detail = ""): Error {
  return new Error(`timed out after ${ms} ms waiting for ${what}${detail}`);
}

/** Polls `check` every 20 ms until it holds; fails naming `what` once `ms` have passed. */
export async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw timedOut(ms, what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What `promise` settles with, or a failure naming `what` once `ms` have passed. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut(ms, what)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads text from `reader` until `enough(text so far)` holds, and returns that text. Fails naming
 * `what` (and showing the end of what was read) when the stream ends first or `ms` pass; on a
 * timeout the reader is cancelled, so nothing keeps reading.
 */
export async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  enough: (text: string) => boolean,
  ms: number,
  what: string,
): Promise<string> {
  let text = "";
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    reader.cancel().catch(() => {});
  }, ms);
  const tail = () => `; read so far: ${JSON.stringify(text.slice(-500))}`;
  try {
    while (!enough(text)) {
      const { value, done } = await reader.read();
      if (late) throw timedOut(ms, what, tail());
      if (done) throw new Error(`the stream ended before ${what}${tail()}`);
      text += value;
    }
    return text;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads `reader` to its end and returns what it read. Fails naming `what` when it has not ended
 * after `ms` (the reader is then cancelled).
 */
export async function readToEnd<T>(
  reader: ReadableStreamDefaultReader<T>,
  ms: number,
  what: string,
): Promise<T[]> {
  const chunks: T[] = [];
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    reader.cancel().catch(() => {});
  }, ms);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (late) throw timedOut(ms, what);
      if (done) return chunks;
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads and drops what `conn` receives until the other side closes it. Fails naming `what` when it
 * is still open after `ms` (it is then closed here, so the pending read ends).
 */
export async function untilClosed(conn: Deno.Conn, ms: number, what: string): Promise<void> {
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    try {
      conn.close();
    } catch {
      // closed meanwhile
    }
  }, ms);
  try {
    const buffer = new Uint8Array(4096);
    while ((await conn.read(buffer).catch(() => null)) !== null) { /* drop */ }
    if (late) throw timedOut(ms, what);
  } finally {
    clearTimeout(timer);
  }
}
