import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

/**
 * The client is a static Solid app in `client/`, built into `dist/client`, which the worker serves
 * as assets with an SPA fallback (wrangler.toml `[assets]`); `/api/*` always reaches the worker.
 * `root` is resolved from this file so the build works from any working directory.
 *
 * `vite` (dev server) proxies `/api` (HTTP and WebSocket) to a running `wrangler dev`, by default on
 * 127.0.0.1:8787; set VTT_API_ORIGIN to point it elsewhere.
 */
export default defineConfig({
  root: fileURLToPath(new URL("./client", import.meta.url)),
  plugins: [solid()],
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
