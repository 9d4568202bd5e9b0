/**
 * The checked-in description (docs/openapi.json, docs/protocol.json; `npm run openapi` writes them
 * from what the worker serves, and a worker test fails when they differ) is a valid OpenAPI 3.1
 * document and a usable JSON Schema of the WebSocket messages.
 */
import { readFileSync } from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";
import { describe, expect, it } from "vitest";
import { z } from "zod";

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../docs/${file}`, import.meta.url), "utf8"));

describe("docs/openapi.json", () => {
  it("validates as OpenAPI 3.1", async () => {
    const document = read("openapi.json");
    const api = await SwaggerParser.validate(document);
    expect("openapi" in api && api.openapi).toBe("3.1.0");
    expect(Object.keys(api.paths ?? {})).toEqual(
      expect.arrayContaining(["/api/vtt/sessions/{sid}/state", "/api/vtt/sessions/{sid}/changes", "/api/vtt/sessions/{sid}/batch"]),
    );
  });

  it("a broken document does not validate", async () => {
    const document = read("openapi.json");
    document.paths["/api/vtt/sessions/{sid}/state"].get.responses["200"].content["application/json"].schema = {
      $ref: "#/components/schemas/Nothing",
    };
    await expect(SwaggerParser.validate(document)).rejects.toThrow();
  });
});

describe("cli/api-types.ts", () => {
  it("has every operation of docs/openapi.json (npm run openapi regenerates both)", () => {
    const document = read("openapi.json");
    const types = readFileSync(new URL("../../cli/api-types.ts", import.meta.url), "utf8");
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, { operationId: string }>>)) {
      expect(types, path).toContain(`"${path}": {`);
      for (const operation of Object.values(item)) expect(types, operation.operationId).toContain(`${operation.operationId}: {`);
    }
  });
});

describe("docs/protocol.json", () => {
  const protocol = read("protocol.json");
  /** The schema of one `$defs` entry with its references to other entries resolved. */
  function schemaOf(name: string) {
    const inline = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(inline);
      if (node && typeof node === "object") {
        const ref = (node as { $ref?: unknown }).$ref;
        if (typeof ref === "string") return inline(protocol.$defs[ref.split("/").pop() ?? ""]);
        return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, inline(v)]));
      }
      return node;
    };
    return z.fromJSONSchema(inline(protocol.$defs[name]) as never);
  }

  it("describes the client's messages as the session object accepts them", () => {
    const client = schemaOf("ClientMessage");
    expect(client.safeParse({ type: "resume", since: 3 }).success).toBe(true);
    expect(client.safeParse({ type: "ack", event_ids: [1, 2] }).success).toBe(true);
    expect(client.safeParse({ type: "ack", event_ids: [] }).success).toBe(false);
    expect(client.safeParse({ type: "resume", since: 3, extra: 1 }).success).toBe(false);
    expect(client.safeParse({ type: "shout" }).success).toBe(false);
  });

  it("describes the server's messages", () => {
    const server = schemaOf("ServerMessage");
    expect(server.safeParse({ type: "hello", seq: 4, role: "gm", client_id: "c", user_id: "u", active_scene_id: null }).success).toBe(true);
    expect(server.safeParse({ type: "hello", seq: 4, role: "admin", client_id: "c", user_id: "u", active_scene_id: null }).success).toBe(
      false,
    );
    expect(
      server.safeParse({ type: "change", event_id: 9, seq: 9, entity_type: "token", entity_id: "t", version: 2, op: "update" }).success,
    ).toBe(true);
    expect(server.safeParse({ type: "lock", scene_id: "s", lock: null, reason: "released" }).success).toBe(true);
    expect(protocol["x-close-codes"].credential_ended).toBe(4401);
  });
});
