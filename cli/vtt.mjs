#!/usr/bin/env node
// Launcher of the `vtt` CLI (cli/main.ts). Node >= 22.12 runs the TypeScript sources directly (type
// stripping); the resolve hook lets them import the shared domain/ modules, which name their
// imports without the `.ts` extension as the bundlers expect.
import { register } from "node:module";

register("./resolve-ts.mjs", import.meta.url);
const { main } = await import("./main.ts");
process.exitCode = await main(process.argv.slice(2));
