/**
 * Waiting with a limit, without leaving a timer behind.
 *
 * @module
 */

/**
 * Waits for `promise` or `ms` milliseconds, whichever comes first.
 * @returns `true` when the promise settled first (its rejection counts as settled).
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
