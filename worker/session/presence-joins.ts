/**
 * Joins announced together. When many clients connect at once (a table opening, every player
 * reconnecting after a deploy), telling every socket of every join one at a time costs N×N
 * messages. Instead the object collects the joins of the moment and announces them in one
 * `{"type":"presence","joined":[...]}` text, serialized once:
 *
 * - the moment lasts while upgrades are in flight in the object: the announcement goes out one
 *   macrotask (setTimeout 0) after the last upgrade in flight was accepted or refused, so a burst
 *   of connects is one message to each socket;
 * - it never waits more than PRESENCE_MAX_WAIT_MS after the first join it holds (a steady stream
 *   of connects still announces them), and a departure announces what is held first (no one
 *   hears of a departure before the arrival).
 *
 * A socket that joined in the same moment already got the list of everyone before it (`clients`
 * after its hello): it hears only of the joins after its own.
 */
import type { PresenceClient, ServerMessage } from "../../domain/protocol";

/** The longest a join waits to be announced. */
export const PRESENCE_MAX_WAIT_MS = 1000;

interface Held {
  client: PresenceClient;
  ws: WebSocket;
}

export class PresenceJoins {
  readonly #broadcast: (text: string, except: ReadonlySet<WebSocket>) => void;
  readonly #sendTo: (ws: WebSocket, text: string) => void;
  #held: Held[] = [];
  #inFlight = 0;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;

  constructor(broadcast: (text: string, except: ReadonlySet<WebSocket>) => void, sendTo: (ws: WebSocket, text: string) => void) {
    this.#broadcast = broadcast;
    this.#sendTo = sendTo;
  }

  /** An upgrade started; `end` must follow, whatever its outcome. */
  begin(): void {
    this.#inFlight += 1;
  }

  end(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    this.#schedule();
  }

  /** A socket was accepted: announced to everyone else with the joins of the moment. */
  add(client: PresenceClient, ws: WebSocket): void {
    this.#held.push({ client, ws });
    this.#deadline ??= setTimeout(() => this.flush(), PRESENCE_MAX_WAIT_MS);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#held.length === 0 || this.#inFlight > 0 || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      if (this.#inFlight === 0) this.flush();
    }, 0);
  }

  /** Announces the joins held, now. */
  flush(): void {
    if (this.#soon !== undefined) clearTimeout(this.#soon);
    if (this.#deadline !== undefined) clearTimeout(this.#deadline);
    this.#soon = undefined;
    this.#deadline = undefined;
    const held = this.#held;
    this.#held = [];
    if (held.length === 0) return;
    const text = (clients: PresenceClient[]) => JSON.stringify({ type: "presence", joined: clients } satisfies ServerMessage);
    this.#broadcast(text(held.map((h) => h.client)), new Set(held.map((h) => h.ws)));
    held.forEach((h, i) => {
      const later = held.slice(i + 1).map((l) => l.client);
      if (later.length > 0) this.#sendTo(h.ws, text(later));
    });
  }
}
