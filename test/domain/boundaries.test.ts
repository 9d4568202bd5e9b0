import { describe, expect, it } from "vitest";

/**
 * `domain/` is the pure part shared by the worker, the web app and the CLI: it imports nothing
 * from the game modules, the worker or the client (they hand it what it needs, e.g. the entity
 * registry). Read from the source files themselves, so a new import anywhere under domain/ is
 * caught.
 */
const sources = import.meta.glob<string>("../../domain/**/*.ts", { query: "?raw", import: "default", eager: true });

/** Every module specifier a file names: static and dynamic imports, re-exports, `typeof import(...)`. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) if (match[1]) found.push(match[1]);
  return found;
}

/** `spec` resolved against the file at `from` (both relative to the repository root). */
function resolve(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const step of spec.split("/")) {
    if (step === "..") parts.pop();
    else if (step !== ".") parts.push(step);
  }
  return parts.join("/");
}

const files = Object.entries(sources).map(([key, text]) => ({ path: key.replace(/^(\.\.\/)+/, ""), text }));

/** What a domain file imports from outside domain/ in the project (packages are fine). */
function outsideImports(path: string, text: string): string[] {
  return specifiers(text)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => resolve(path, spec))
    .filter((target) => !target.startsWith("domain/"));
}

describe("the domain's imports", () => {
  it("reads every source file of domain/", () => {
    const paths = files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(["domain/entities.ts", "domain/registry.ts", "domain/core-entities.ts", "domain/ops.ts"]));
    expect(paths.length).toBeGreaterThanOrEqual(20);
    expect(files.every((f) => f.text.length > 0)).toBe(true);
  });

  it("finds imports of every form, resolved from the importing file", () => {
    const text = [
      'import { modules } from "../modules/registry";',
      'import type { AppEnv } from "../worker/types";',
      "export { x } from '../client/src/lib/api';",
      'const lazy = await import("./ops");',
      'import "../modules/fog/domain";',
    ].join("\n");
    expect(outsideImports("domain/visibility.ts", text)).toEqual([
      "modules/registry",
      "worker/types",
      "client/src/lib/api",
      "modules/fog/domain",
    ]);
    expect(outsideImports("domain/visibility.ts", 'import { z } from "zod";\nimport type { Actor } from "./permissions";')).toEqual([]);
  });

  it("names nothing of modules/, worker/ or client/", () => {
    const offending = files.flatMap(({ path, text }) => outsideImports(path, text).map((target) => `${path} imports ${target}`));
    expect(offending).toEqual([]);
  });
});
