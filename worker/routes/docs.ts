/** The API's own description: `GET /api/openapi.json` (OpenAPI 3.1) and `GET /api/protocol.json`. */
import { Hono } from "hono";
import { buildOpenApiDocument, OPENAPI_PATH, PROTOCOL_PATH } from "../openapi/document";
import { buildProtocolDocument } from "../openapi/protocol";
import type { AppEnv } from "../types";

let openApi: Promise<unknown> | undefined;

export const docsRoutes = new Hono<AppEnv>()
  .get(OPENAPI_PATH, async (c) => {
    openApi ??= buildOpenApiDocument();
    return c.json(await openApi);
  })
  .get(PROTOCOL_PATH, (c) => c.json(buildProtocolDocument()));
