/** A local HTTP server standing in for the API in CLI tests: records each request, answers as told. */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  /** The request body as received. */
  body: Buffer;
}

/** An answer: JSON, or raw bytes sent as a zip. */
export type FakeAnswer = { status: number; json?: unknown; zip?: Uint8Array };

export interface FakeServer {
  url: string;
  seen: SeenRequest[];
  /** What the next requests are answered with. */
  answer: FakeAnswer;
  close(): Promise<void>;
}

export async function startFakeServer(): Promise<FakeServer> {
  const fake = { url: "", seen: [] as SeenRequest[], answer: { status: 500 } as FakeAnswer } as FakeServer;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      fake.seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
      const { status, json, zip } = fake.answer;
      if (zip) {
        res.writeHead(status, { "content-type": "application/zip", "content-length": String(zip.byteLength) });
        res.end(Buffer.from(zip));
      } else {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}
