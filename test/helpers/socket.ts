import { SELF } from "cloudflare:test";
import { ORIGIN, type TestUser } from "./client";

/** How long a test waits for a message before it fails (a bound, never an assertion on time). */
const WAIT_MS = 5000;

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A real WebSocket to `GET {S}/ws` through the worker, as a client would hold it: every frame
 * kept in order (raw text too, to assert what never arrived), and waits for the next matching one.
 */
export class TestSocket {
  readonly ws: WebSocket;
  readonly raw: string[] = [];
  readonly messages: any[] = [];
  closed: Closed | undefined;
  #cursor = 0;
  #wake: (() => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      const text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
      this.raw.push(text);
      let parsed: any = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (pong): kept as text.
      }
      this.messages.push(parsed);
      this.#notify();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.#notify();
    });
  }

  #notify(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const w of waiting) w();
  }

  /** Opens a socket as `user`; returns the response too when the upgrade is refused. */
  static async connect(user: TestUser, base: string, headers: Record<string, string> = {}, query = "") {
    const h: Record<string, string> = { upgrade: "websocket", ...headers };
    if (user.bearer) h.authorization = `Bearer ${user.bearer}`;
    else if (user.cookie) h.cookie = user.cookie;
    const res = await SELF.fetch(`${ORIGIN}${base}/ws${query}`, { headers: h });
    if (res.status !== 101 || !res.webSocket) {
      const text = await res.text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Kept as text.
      }
      return { socket: undefined, status: res.status, body };
    }
    const ws = res.webSocket;
    const socket = new TestSocket(ws);
    ws.accept();
    return { socket, status: res.status, body: null };
  }

  /** Opens a socket and waits for its hello. */
  static async open(user: TestUser, base: string, headers: Record<string, string> = {}, query = ""): Promise<TestSocket> {
    const { socket, status, body } = await TestSocket.connect(user, base, headers, query);
    if (!socket) throw new Error(`upgrade refused: ${status} ${JSON.stringify(body)}`);
    await socket.next((m) => m.type === "hello");
    return socket;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message after the previous `next` that matches; earlier non-matching ones are skipped. */
  async next(match: (m: any) => boolean = () => true, what = "a matching message"): Promise<any> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      while (this.#cursor < this.messages.length) {
        const m = this.messages[this.#cursor++];
        if (match(m)) return m;
      }
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
      await this.#sleepUntilMessage(deadline, what);
    }
  }

  /** Waits until the socket is closed by the other side. */
  async waitClosed(): Promise<Closed> {
    const deadline = Date.now() + WAIT_MS;
    while (!this.closed) await this.#sleepUntilMessage(deadline, "the socket to close");
    return this.closed;
  }

  /** Every message of a type received so far. */
  all(type: string): any[] {
    return this.messages.filter((m) => m?.type === type);
  }

  #sleepUntilMessage(deadline: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const left = deadline - Date.now();
      if (left <= 0) {
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-10))}`));
        return;
      }
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-10))}`)),
        left,
      );
      this.#wake.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(code = 1000, reason = "done"): void {
    try {
      this.ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }
}
