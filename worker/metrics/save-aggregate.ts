/**
 * Saves counted in memory and written to D1 together: the session object keeps one of these
 * (`SessionObject.saveMetrics`) and flushes it from its alarm, due `SAVE_FLUSH_MS` after the first
 * save not yet flushed, so a busy session costs D1 one statement every few seconds instead of one
 * upsert a save. The rows are exactly those `recordSave` writes (`saveRows`), summed, and what D1
 * reported for the object's commits (d1-usage.ts `usageRows`).
 *
 * Held in memory only: an object evicted or restarted between a save and its flush (a deploy, a
 * crash; the runtime itself evicts only after longer silences) loses at most those seconds of
 * counters. A flush D1 refuses loses nothing: its rows are put back and written by the next one.
 */
import { type D1Usage, usageRows } from "./d1-usage";
import { type CounterRow, type SaveOutcome, type SaveRoute, saveRows, writeCounters } from "./recorder";

/** How long after the first unflushed save the object flushes its counters to D1. */
export const SAVE_FLUSH_MS = 2000;

export class SaveAggregate {
  #rows = new Map<string, CounterRow>();

  /** Whether nothing waits to be flushed. */
  isEmpty(): boolean {
    return this.#rows.size === 0;
  }

  /** Counts one save; true when it is the first since the last flush (the caller schedules one). */
  add(ms: number, outcome: SaveOutcome, route: SaveRoute): boolean {
    const first = this.#rows.size === 0;
    this.#merge(saveRows(ms, outcome, route));
    return first;
  }

  /** Counts what D1 did for one commit; true when it is the first row since the last flush. */
  addCommit(usage: D1Usage): boolean {
    const first = this.#rows.size === 0;
    this.#merge(usageRows(usage));
    return first;
  }

  /** The rows waiting, summed per metric, label set and bucket. */
  rows(): CounterRow[] {
    return [...this.#rows.values()].map((r) => ({ ...r, labels: { ...r.labels } }));
  }

  /**
   * Writes what is waiting to D1 in one statement and forgets it; saves counted meanwhile wait
   * for the next flush. On failure the rows are kept (merged with newer ones) and the error thrown.
   * Returns how many rows were written.
   */
  async flush(db: D1Database): Promise<number> {
    if (this.#rows.size === 0) return 0;
    const rows = [...this.#rows.values()];
    this.#rows = new Map();
    try {
      await writeCounters(db, rows);
    } catch (error) {
      this.#merge(rows);
      throw error;
    }
    return rows.length;
  }

  #merge(rows: readonly CounterRow[]): void {
    for (const row of rows) {
      const key = `${row.name}\u0000${JSON.stringify(row.labels)}\u0000${row.bucket}`;
      const known = this.#rows.get(key);
      if (known) known.value += row.value;
      else this.#rows.set(key, { ...row });
    }
  }
}
