import { expect, it } from "vitest";

/**
 * The web app knows the game modules only through its composition root: client/src/main.tsx
 * imports modules/client.ts and passes the registry it builds down. Any other file of the app
 * importing from modules/ would bring back a list of modules fixed at import time. Read from the
 * source files themselves, so a new import anywhere under client/src/ is caught.
 */
const sources = (import.meta as unknown as { glob<T>(pattern: string, options: object): Record<string, T> }).glob<string>(
  "../../client/src/**/*.{ts,tsx}",
  { query: "?raw", import: "default", eager: true },
);

/** `spec` resolved against the file at `from` (both relative to the repository root). */
function resolvePath(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const step of spec.split("/")) {
    if (step === "..") parts.pop();
    else if (step !== ".") parts.push(step);
  }
  return parts.join("/");
}

/** The files under modules/ a source file imports (static, dynamic and type imports, re-exports). */
function moduleImports(path: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((m) => m[1] ?? "");
  return specs
    .filter((spec) => spec.startsWith("."))
    .map((spec) => resolvePath(path, spec))
    .filter((target) => target === "modules" || target.startsWith("modules/"));
}

it("imports game modules only in the app's entry (main.tsx)", () => {
  const files = Object.entries(sources).map(([key, text]) => ({ path: key.replace(/^(\.\.\/)+/, ""), text }));
  expect(files.length).toBeGreaterThan(20);
  expect(files.some((f) => f.path === "client/src/lib/sync.ts")).toBe(true);
  const importers = files.filter((f) => moduleImports(f.path, f.text).length > 0).map((f) => f.path);
  expect(importers).toEqual(["client/src/main.tsx"]);
});
