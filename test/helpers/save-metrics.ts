import { env, runInDurableObject } from "cloudflare:test";
import type { SessionObject } from "../../worker/session/session-object";

/**
 * Writes the saves a session's object has counted to D1 now, as its alarm would a moment later
 * (worker/metrics/save-aggregate.ts). A REST save reaches the object after its answer: callers
 * poll, flushing each time. Returns how many counter rows were written.
 */
export function flushSaveMetrics(sid: string): Promise<number> {
  return runInDurableObject(env.SESSION.get(env.SESSION.idFromName(sid)), (instance: SessionObject) => instance.saveMetrics.flush(env.DB));
}
