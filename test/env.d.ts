import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
  /** Vite's `import.meta.glob` (transformed at build time; the plugin serves it inside workerd too). */
  interface ImportMeta {
    glob: import("vite/types/importGlob.d.ts").ImportGlobFunction;
  }
}
