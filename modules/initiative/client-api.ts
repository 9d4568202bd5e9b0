/**
 * The initiative module's own route, called from the web app with the session cookie and the
 * CSRF token (through the app's `request`). The panel hands the encounter it answers with to
 * `sync.accept`; what the round's hooks changed (expired conditions) arrives by the socket or poll.
 */
import { request } from "../../client/src/lib/api";
import type { AnyEntity } from "../../client/src/lib/types";

export interface TurnAnswer {
  encounter: AnyEntity;
  effects: { entity_type: string; id: string; op: string; version: number }[];
  seq: number;
}

export interface InitiativeApi {
  /** Moves the turn from `baseVersion` of the encounter (409 when the server has another). */
  moveTurn(encounterId: string, direction: "next" | "previous", baseVersion: number): Promise<TurnAnswer>;
}

export function createInitiativeApi(sessionId: string, fetchImpl?: typeof fetch): InitiativeApi {
  const base = `/api/vtt/sessions/${encodeURIComponent(sessionId)}/modules/initiative`;
  return {
    moveTurn: (encounterId, direction, baseVersion) =>
      request<TurnAnswer>("POST", `${base}/encounters/${encodeURIComponent(encounterId)}/${direction}`, {
        body: { base_version: baseVersion },
        ...(fetchImpl ? { fetch: fetchImpl } : {}),
      }),
  };
}
