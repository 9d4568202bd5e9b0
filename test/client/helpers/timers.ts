/**
 * A clock the test moves by hand: timers run when `advance` passes their time, in order. The
 * modules under test get it as their `timers`, `now` and `random`, so nothing depends on the
 * wall clock.
 */
import type { Timers } from "../../../client/src/lib/transport";

interface Task {
  id: number;
  at: number;
  ms: number;
  run: () => void;
}

export class ManualClock implements Timers {
  time = 0;
  #tasks: Task[] = [];
  #next = 1;

  setTimeout = (run: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#tasks.push({ id, at: this.time + ms, ms, run });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.#tasks = this.#tasks.filter((t) => t.id !== handle);
  };

  now = (): number => this.time;

  /** Delays (as requested) of the timers still waiting, in the order they were set. */
  pending(): number[] {
    return this.#tasks.map((t) => t.ms);
  }

  /** Runs every timer due within `ms`, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = this.#tasks.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#tasks = this.#tasks.filter((t) => t !== due);
      this.time = due.at;
      due.run();
    }
    this.time = end;
    await settle();
  }
}

// Node's macrotask hook (not in the DOM typings this folder is checked with).
const { setImmediate } = globalThis as unknown as { setImmediate: (callback: () => void) => void };

/** Lets pending promise chains and IndexedDB requests (scheduled with setImmediate) run. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A `random()` returning the given values in turn (the last one repeats). */
export function randomSequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0.5;
}
