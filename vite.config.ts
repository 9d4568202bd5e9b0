import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
import { VitePWA } from "vite-plugin-pwa";
import solid from "vite-plugin-solid";

/**
 * The client is a static Solid app in `client/`, built into `dist/client`, which the worker serves
 * as assets with an SPA fallback (wrangler.toml `[assets]`); `/api/*` always reaches the worker.
 * `root` is resolved from this file so the build works from any working directory.
 *
 * `vite` (dev server) proxies `/api` (HTTP and WebSocket) to a running `wrangler dev`, by default on
 * 127.0.0.1:8787; set VTT_API_ORIGIN to point it elsewhere.
 *
 * The build also writes a service worker (`sw.js`, Workbox's generateSW) that precaches the app
 * shell (index.html, JS, CSS) and answers every navigation outside `/api/` with the precached
 * index.html, so the table opens with no network at all and renders from IndexedDB. It never
 * caches API answers: the session's data lives in IndexedDB (client/src/lib/cache.ts), where the
 * sync layer keeps it versioned. The one exception is the bytes behind an asset's `/file` route:
 * an asset is named by its SHA-256, so what that URL answers never changes. The page registers the
 * worker itself (client/src/lib/offline.ts), only in production builds.
 */
/**
 * The API reference page (`GET /api/docs`, worker/routes/docs.ts) runs Scalar's viewer, whose
 * browser bundle ships in the `@scalar/api-reference` package: the build copies it into the
 * assets (`/vendor/scalar/api-reference.js`), so the page loads nothing from a CDN.
 */
export const API_REFERENCE_SCRIPT = "vendor/scalar/api-reference.js";
function apiReferenceViewer(): Plugin {
  let outDir = "";
  return {
    name: "vtt-api-reference-viewer",
    apply: "build",
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    writeBundle() {
      // The package's entry is dist/index.js; its browser bundle sits beside it.
      const entry = createRequire(import.meta.url).resolve("@scalar/api-reference");
      const target = join(outDir, API_REFERENCE_SCRIPT);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(dirname(entry), "browser", "standalone.js"), target);
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL("./client", import.meta.url)),
  plugins: [
    solid(),
    apiReferenceViewer(),
    VitePWA({
      strategies: "generateSW",
      // The page asks before an update takes over (an update must not reload a table mid-edit).
      registerType: "prompt",
      injectRegister: false,
      manifest: false,
      filename: "sw.js",
      workbox: {
        globPatterns: ["**/*.{html,js,css,svg,ico,png,webp,woff2}"],
        // The API reference viewer is not part of the table's offline shell.
        globIgnores: ["vendor/**"],
        navigateFallback: "index.html",
        navigateFallbackDenylist: [/^\/api\//],
        cleanupOutdatedCaches: true,
        // The first install takes control of the open page at once, so it works offline without a reload.
        clientsClaim: true,
        // One file: nothing else to serve or to keep in step with sw.js.
        inlineWorkboxRuntime: true,
        runtimeCaching: [
          {
            // `<img>` of a map or token art: a redirect to a signed URL, followed; the bytes are cached.
            urlPattern: /\/api\/vtt\/sessions\/[^/?#]+\/assets\/[0-9a-f]{64}\/file$/,
            handler: "CacheFirst",
            method: "GET",
            options: {
              cacheName: "vtt-asset-files",
              expiration: { maxEntries: 500 },
              cacheableResponse: { statuses: [200] },
            },
          },
        ],
      },
    }),
  ],
  build: {
    outDir: "../dist/client",
    emptyOutDir: true,
  },
  server: {
    proxy: {
      "/api": {
        target: process.env.VTT_API_ORIGIN ?? "http://127.0.0.1:8787",
        ws: true,
      },
    },
  },
});
