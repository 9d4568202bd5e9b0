/**
 * Live drag previews: while a token is dragged, its position goes to the other sockets as
 * `{type: "preview", entity_id, x, y, rotation?}` (domain/protocol.ts). The server relays at most
 * ~30 a second per socket and drops the rest, so the client throttles to fewer than that: the first
 * position goes at once, later ones at most every `intervalMs`, and the last one always goes (a
 * trailing send), so others see where the drag stopped. Previews are never persisted: the drop is
 * one ordinary `update`.
 */
import type { Timers } from "./transport";
import { defaultTimers } from "./transport";

export interface PreviewMessage {
  type: "preview";
  entity_id: string;
  x: number;
  y: number;
  rotation?: number;
}

export interface PreviewSender {
  /** Queues a position of a token; sent now or at the end of the current interval. */
  move(entityId: string, x: number, y: number, rotation?: number): void;
  /** Drops a waiting position (the drag ended: the update follows). */
  cancel(): void;
}

export const PREVIEW_INTERVAL_MS = 50;

/** `send` is the transport's (false while the socket is closed: previews are not worth queueing). */
export function createPreviewSender(
  send: (message: PreviewMessage) => boolean,
  options: { intervalMs?: number; timers?: Timers } = {},
): PreviewSender {
  const intervalMs = options.intervalMs ?? PREVIEW_INTERVAL_MS;
  const timers = options.timers ?? defaultTimers;
  let waiting: PreviewMessage | null = null;
  let timer: unknown = null;

  function tick() {
    timer = null;
    if (waiting === null) return;
    const message = waiting;
    waiting = null;
    send(message);
    timer = timers.setTimeout(tick, intervalMs);
  }

  return {
    move(entityId, x, y, rotation) {
      waiting = {
        type: "preview",
        entity_id: entityId,
        x: Math.round(x),
        y: Math.round(y),
        ...(rotation !== undefined ? { rotation } : {}),
      };
      if (timer === null) tick();
    },
    cancel() {
      waiting = null;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
    },
  };
}
