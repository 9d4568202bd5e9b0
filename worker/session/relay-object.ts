/**
 * The floor of the fan-out benchmark: a bare Durable Object that accepts hibernating sockets and
 * relays each message it is given to all of them, as is. No auth, no D1, no filter, no queue:
 * whatever the session object costs above this is the cost of the real-time channel itself.
 * Reachable only through /api/bench/relay/* when BENCH_ROUTES is "1".
 */
import { DurableObject } from "cloudflare:workers";
import { PING, PONG } from "../../domain/protocol";

export class RelayObject extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a websocket upgrade", { status: 400 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** Sends `text` to every socket; returns how many were sent to. */
  relay(text: string): number {
    let sent = 0;
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
        sent += 1;
      } catch {
        // Closing.
      }
    }
    return sent;
  }

  /** Closes every socket (between benchmark runs). */
  closeAll(): number {
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) {
      try {
        ws.close(1000, "bench run over");
      } catch {
        // Already closed.
      }
    }
    return sockets.length;
  }

  override async webSocketMessage(): Promise<void> {}

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close([1005, 1006, 1015].includes(code) ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }
}
