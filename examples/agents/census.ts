// What the world knows of its agents: each one's health after the last tick, as it answered.
// Compact (three bytes an agent) and pure: the world container feeds it replies and prints it.
import type { Health, Seen } from "./model.ts";

const CODES: readonly Health[] = ["S", "I", "R"];

/** The world's record of every agent, and the tallies of one tick. */
export class Census {
  readonly size: number;
  #h: Uint8Array;
  #d: Uint16Array;

  constructor(size: number) {
    this.size = size;
    this.#h = new Uint8Array(size);
    this.#d = new Uint16Array(size);
  }

  /** Agent `i` as last seen. */
  get(i: number): Seen {
    return { h: CODES[this.#h[i]], d: this.#d[i] };
  }

  /** Records agent `i`'s answer. */
  set(i: number, seen: Seen): void {
    this.#h[i] = CODES.indexOf(seen.h);
    this.#d[i] = Math.min(seen.d, 0xffff);
  }

  /** How many agents are in each health. */
  counts(): Record<Health, number> {
    const counts = { S: 0, I: 0, R: 0 };
    for (const code of this.#h) counts[CODES[code]]++;
    return counts;
  }

  /**
   * A map of the grid (w wide), at most `cols` characters wide: each character stands for a block
   * of agents and shows `#` where a quarter or more are infectious, `.` where half or more are
   * immune, ` ` otherwise.
   */
  map(w: number, cols = 50): string[] {
    const h = this.size / w;
    const bx = Math.max(1, Math.ceil(w / cols));
    const by = bx * 2; // a character is about twice as tall as it is wide
    const lines: string[] = [];
    for (let y0 = 0; y0 < h; y0 += by) {
      let line = "";
      for (let x0 = 0; x0 < w; x0 += bx) {
        let infectious = 0, immune = 0, all = 0;
        for (let y = y0; y < Math.min(h, y0 + by); y++) {
          for (let x = x0; x < Math.min(w, x0 + bx); x++) {
            const code = this.#h[y * w + x];
            all++;
            if (code === 1) infectious++;
            else if (code === 2) immune++;
          }
        }
        line += infectious * 4 >= all ? "#" : immune * 2 >= all ? "." : " ";
      }
      lines.push(line.trimEnd());
    }
    return lines;
  }
}
