/**
 * The API's own description: `GET /api/openapi.json` (OpenAPI 3.1), `GET /api/protocol.json`, and
 * `GET /api/docs`, a page reading the first with Scalar's API reference viewer. The viewer's script
 * is served with the app's assets (vite.config.ts copies it from the `@scalar/api-reference`
 * package), never from a CDN: the page works on a machine with no internet, and sends nothing out.
 */
import { Scalar } from "@scalar/hono-api-reference";
import { Hono } from "hono";
import { buildOpenApiDocument, OPENAPI_PATH, PROTOCOL_PATH } from "../openapi/document";
import { buildProtocolDocument } from "../openapi/protocol";
import type { AppEnv } from "../types";

/** The page of the API reference. */
export const API_DOCS_PATH = "/api/docs";
/** Where the assets serve the viewer's script (vite.config.ts `apiReferenceViewer`). */
export const API_REFERENCE_SCRIPT = "/vendor/scalar/api-reference.js";

let openApi: Promise<unknown> | undefined;

export const docsRoutes = new Hono<AppEnv>()
  .get(OPENAPI_PATH, async (c) => {
    openApi ??= buildOpenApiDocument();
    return c.json(await openApi);
  })
  .get(PROTOCOL_PATH, (c) => c.json(buildProtocolDocument()))
  .get(
    API_DOCS_PATH,
    Scalar({
      url: OPENAPI_PATH,
      cdn: API_REFERENCE_SCRIPT,
      pageTitle: "VTT save & sync API",
      // Nothing from elsewhere: no web fonts, no telemetry, none of the hosted services' buttons
      // (the AI agent, the developer toolbar).
      withDefaultFonts: false,
      telemetry: false,
      agent: { disabled: true },
      showDeveloperTools: "never",
    }),
  );
