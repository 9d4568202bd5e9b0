/** A WebSocket double for partysocket: the test opens it, feeds it frames and drops it. */
export class FakeWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static instances: FakeWebSocket[] = [];
  /**
   * Answers the client's `ops` messages as the server would (`result`, or an `error` frame with
   * the ApiError's status, code and details); the sync harness sets it to its fake server's
   * `batch`. Null: they stay unanswered (a test answers them itself).
   */
  static answerOps: ((ops: unknown[]) => Promise<unknown>) | null = null;

  readonly url: string;
  readyState = FakeWebSocket.CONNECTING;
  binaryType = "blob";
  bufferedAmount = 0;
  extensions = "";
  protocol = "";
  readonly sent: string[] = [];
  /** Like the server's runtime (auto-response), answer `ping` with `pong`; off: a silent socket. */
  answerPings = true;

  constructor(url: string) {
    super();
    this.url = url;
    FakeWebSocket.instances.push(this);
  }

  static reset(): void {
    FakeWebSocket.instances = [];
    FakeWebSocket.answerOps = null;
  }

  static latest(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1);
    if (!ws) throw new Error("no socket was created");
    return ws;
  }

  send(data: string): void {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error("send on a socket that is not open");
    this.sent.push(data);
    const answer = FakeWebSocket.answerOps;
    if (answer && data.startsWith('{"type":"ops"')) {
      const { id, ops } = JSON.parse(data) as { id: unknown; ops: unknown[] };
      const reply = (message: Record<string, unknown>) => {
        if (this.readyState === FakeWebSocket.OPEN) this.receive({ ...message, id });
      };
      answer(ops).then(
        (response) => reply({ type: "result", ...(response as Record<string, unknown>) }),
        (error: { status?: number; code?: string; message?: string; details?: unknown }) =>
          reply({ type: "error", code: error.code, message: error.message, status: error.status, details: error.details }),
      );
    }
    if (data === "ping" && this.answerPings) queueMicrotask(() => this.readyState === FakeWebSocket.OPEN && this.pong());
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.readyState = FakeWebSocket.CLOSED;
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason, wasClean: true }));
  }

  /** The JSON messages the client sent (its heartbeat pings left out: see `pings`). */
  messages(): unknown[] {
    return this.sent.filter((s) => s !== "ping").map((s) => JSON.parse(s) as unknown);
  }

  /** How many heartbeat pings the client sent. */
  pings(): number {
    return this.sent.filter((s) => s === "ping").length;
  }

  /** The runtime's auto-response to a ping. */
  pong(): void {
    this.dispatchEvent(new MessageEvent("message", { data: "pong" }));
  }

  // --- what the server side does ---

  accept(): void {
    this.readyState = FakeWebSocket.OPEN;
    this.dispatchEvent(new Event("open"));
  }

  receive(message: unknown): void {
    this.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(message) }));
  }

  drop(code = 1006, reason = ""): void {
    this.readyState = FakeWebSocket.CLOSED;
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason, wasClean: false }));
  }
}
