/**
 * `vtt`: the command line of the VTT save & sync service.
 *
 *   vtt export  --session <sid> --scene <id> --out scene.zip
 *   vtt import  --session <sid> --file scene.zip [--name <scene name>] [--key <uuid>]
 *   vtt backup  --session <sid>
 *   vtt restore --session <sid> [--at <ISO time>]
 *   vtt verify  --file scene.zip
 *
 * The server is --url (or VTT_URL, default http://127.0.0.1:8787), authenticated with --token (or
 * VTT_TOKEN): an API token from POST /api/auth/tokens.
 */

import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { readFile, rename, stat, unlink } from "node:fs/promises";
import { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { unzipSync } from "fflate";
import { checkBundle, unpackBundle } from "../domain/bundle.ts";
import { createEntityRegistry } from "../domain/registry.ts";
import { modules } from "../modules/registry.ts";
import { answered, apiClient, CliError, type Connection, counted, EXIT, progress } from "./http.ts";

const USAGE = `usage: vtt <command> [options]

commands:
  export  --session <sid> --scene <id> --out <file.zip>   export a scene with its assets
  import  --session <sid> --file <file.zip>               import a scene bundle as a new scene, named
          [--name <name>] [--key <uuid>]                   <name> or "<bundle's name> (imported)"; --key
                                                           resumes an import that failed part-way
  backup  --session <sid>                                 take a full backup of a session now
  restore --session <sid> [--at <ISO time>]               restore a session as it was into a new session
  verify  --file <file.zip>                               check a bundle's checksums and contents offline

options:
  --url <url>      server (default: $VTT_URL or http://127.0.0.1:8787)
  --token <token>  API token (default: $VTT_TOKEN)

exit codes: 0 ok, 1 failure, 2 usage, 3 not allowed (bad token), 4 not found, 5 invalid input, 6 server error`;

const options = {
  url: { type: "string" },
  token: { type: "string" },
  session: { type: "string" },
  scene: { type: "string" },
  out: { type: "string" },
  file: { type: "string" },
  at: { type: "string" },
  name: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = { [K in keyof typeof options]?: (typeof options)[K]["type"] extends "boolean" ? boolean : string };

function need(values: Values, ...names: (keyof Values)[]): void {
  const missing = names.filter((n) => !values[n]);
  if (missing.length > 0) throw new CliError(`missing ${missing.map((m) => `--${m}`).join(", ")}\n\n${USAGE}`, EXIT.usage);
}

function connection(values: Values): Connection {
  const url = values.url ?? process.env.VTT_URL ?? "http://127.0.0.1:8787";
  const token = values.token ?? process.env.VTT_TOKEN;
  if (!token) throw new CliError("no API token: pass --token or set VTT_TOKEN", EXIT.usage);
  try {
    new URL(url);
  } catch {
    throw new CliError(`not a URL: ${url}`, EXIT.usage);
  }
  return { url, token };
}

const say = (line: string) => process.stdout.write(`${line}\n`);

async function exportScene(values: Values): Promise<void> {
  need(values, "session", "scene", "out");
  const conn = connection(values);
  const out = values.out as string;
  const result = await apiClient(conn).GET("/api/vtt/sessions/{sid}/scenes/{id}/export", {
    params: { path: { sid: values.session as string, id: values.scene as string } },
    parseAs: "stream",
  });
  const body = answered(result, "GET");
  if (!body) throw new CliError("the server sent no bundle", EXIT.server);
  const length = Number(result.response.headers.get("content-length")) || undefined;
  // Written to a temporary name first: a failed download never leaves a half file under `out`.
  const partial = `${out}.partial`;
  await counted(body, progress("export", length)).pipeTo(Writable.toWeb(createWriteStream(partial)));
  await rename(partial, out);
  say(`exported to ${out} (${(await stat(out)).size} bytes)`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What an import made, in words: "2 layers, 10 tokens, 1 token_art, 2 assets, 3 initiative_entry". */
export function describeCreated(created: Record<string, number | Record<string, number>>): string {
  return Object.entries(created)
    .flatMap(([kind, n]) => (typeof n === "number" ? [`${n} ${kind}`] : Object.entries(n).map(([type, m]) => `${m} ${type}`)))
    .join(", ");
}

async function importScene(values: Values): Promise<void> {
  need(values, "session", "file");
  const conn = connection(values);
  const file = values.file as string;
  if (values.name !== undefined && values.name.trim() === "") throw new CliError("--name may not be empty", EXIT.usage);
  if (values.key !== undefined && !UUID.test(values.key)) throw new CliError(`--key must be a UUID, not ${values.key}`, EXIT.usage);
  const size = (await stat(file).catch(() => undefined))?.size;
  if (size === undefined) throw new CliError(`no such file: ${file}`, EXIT.usage);
  // Every import carries a key: a failure part-way can be resumed with the same one (--key).
  const key = values.key ?? randomUUID();
  const body = counted(Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>, progress("import", size));
  let result: { scene: { id: string; name?: unknown }; created: Record<string, number | Record<string, number>> };
  try {
    const answer = await apiClient(conn).POST("/api/vtt/sessions/{sid}/import", {
      params: {
        path: { sid: values.session as string },
        query: values.name === undefined ? {} : { name: values.name },
        header: { "Idempotency-Key": key },
      },
      // The bundle streams from the file as it is read: no copy in memory.
      body: body as unknown as string,
      bodySerializer: (stream) => stream,
      headers: { "content-type": "application/zip", "content-length": String(size) },
      duplex: "half",
    });
    result = answered(answer, "POST");
  } catch (error) {
    if (error instanceof CliError && error.exitCode !== EXIT.usage && error.exitCode !== EXIT.invalid && error.exitCode !== EXIT.auth)
      throw new CliError(`${error.message}\nretry with --key ${key} to resume this import without a second copy`, error.exitCode);
    throw error;
  }
  say(`imported scene ${result.scene.id} "${String(result.scene.name)}" (${describeCreated(result.created)})`);
}

async function backup(values: Values): Promise<void> {
  need(values, "session");
  const answer = await apiClient(connection(values)).POST("/api/vtt/sessions/{sid}/backups", {
    params: { path: { sid: values.session as string } },
  });
  const { backup: manifest } = answered(answer, "POST");
  say(`backup of seq ${manifest.seq} at ${manifest.created_at}: ${manifest.files.map((f) => `${f.name} (${f.rows})`).join(", ")}`);
}

async function restore(values: Values): Promise<void> {
  need(values, "session");
  if (values.at !== undefined && Number.isNaN(Date.parse(values.at))) throw new CliError(`not a time: ${values.at}`, EXIT.usage);
  const answer = await apiClient(connection(values)).POST("/api/vtt/sessions/{sid}/restore", {
    params: { path: { sid: values.session as string } },
    body: values.at === undefined ? {} : { at: new Date(values.at).toISOString() },
  });
  const result = answered(answer, "POST");
  say(`restored into session ${result.session.id} "${result.session.name}" (state at seq ${result.restored_seq})`);
}

async function verify(values: Values): Promise<void> {
  need(values, "file");
  const bytes = await readFile(values.file as string).catch(() => {
    throw new CliError(`no such file: ${values.file}`, EXIT.usage);
  });
  const unpacked = unpackBundle(new Uint8Array(bytes), unzipSync);
  const checked = unpacked.ok
    ? await checkBundle(registry, unpacked.files, async (b) => createHash("sha256").update(b).digest("hex"))
    : unpacked;
  if (!checked.ok) throw new CliError(`${values.file} is not a valid bundle:\n  ${checked.problems.join("\n  ")}`, EXIT.invalid);
  const b = checked.bundle;
  say(
    `${values.file}: ok — scene "${b.scene.name}", ${b.layers.length} layers, ${b.tokens.length} tokens, ${b.token_art.length} token art, ${b.assets.length} assets, ${checked.manifest.files.length} files verified`,
  );
}

/** The entity types a bundle may hold: the core's and those of the game modules this copy knows. */
const registry = createEntityRegistry(modules);

const commands: Record<string, (values: Values) => Promise<void>> = { export: exportScene, import: importScene, backup, restore, verify };

export async function main(argv: string[]): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  const [name] = parsed.positionals;
  const command = name ? commands[name] : undefined;
  if (parsed.values.help || !command) {
    (command || parsed.values.help ? process.stdout : process.stderr).write(`${USAGE}\n`);
    return parsed.values.help ? EXIT.ok : EXIT.usage;
  }
  try {
    await command(parsed.values);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`vtt ${name}: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`vtt ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.failure;
  } finally {
    if (name === "export" && parsed.values.out) await unlink(`${parsed.values.out}.partial`).catch(() => undefined);
  }
}
