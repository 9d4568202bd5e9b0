/**
 * The session's settings as the object knows them: loaded from D1 once (`gameSessions.settings`,
 * resolved over the defaults), cached until an update replaces them. A failed load is not kept:
 * the next call reads D1 again. The object fans out a change and closes sockets itself.
 */
import { eq } from "drizzle-orm";
import type { JsonObject } from "../../domain/merge-patch";
import { applySettingsPatch, resolveSettings, type SessionSettings, type SettingsPatch } from "../../domain/settings";
import type { Db } from "../db/client";
import { gameSessions } from "../db/schema";

export class SessionSettingsCache {
  readonly #db: () => Db;
  #settings: Promise<SessionSettings> | undefined;

  constructor(db: () => Db) {
    this.#db = db;
  }

  /** The settings, from the cache or D1. */
  load(sessionId: string): Promise<SessionSettings> {
    this.#settings ??= this.#db()
      .select({ settings: gameSessions.settings })
      .from(gameSessions)
      .where(eq(gameSessions.id, sessionId))
      .get()
      .then((row) => resolveSettings(row?.settings));
    this.#settings.catch(() => {
      this.#settings = undefined;
    });
    return this.#settings;
  }

  /** Applies `patch` to the settings D1 holds, writes them back and caches them: before and after. */
  async update(sessionId: string, patch: SettingsPatch): Promise<{ before: SessionSettings; after: SessionSettings }> {
    const db = this.#db();
    const row = await db.select({ settings: gameSessions.settings }).from(gameSessions).where(eq(gameSessions.id, sessionId)).get();
    if (!row) throw new Error(`no game session ${sessionId}`);
    const before = resolveSettings(row.settings);
    const after = applySettingsPatch(before, patch);
    await db
      .update(gameSessions)
      .set({ settings: after as unknown as JsonObject })
      .where(eq(gameSessions.id, sessionId));
    this.#settings = Promise.resolve(after);
    return { before, after };
  }
}
