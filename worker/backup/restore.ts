/**
 * Point-in-time restore: the newest full snapshot taken at or before the time, plus every change
 * of the increments after it up to that time, folded into a NEW session (the original is never
 * touched). Every file is checked against its manifest checksum before anything is written.
 *
 * The new session is placed as a created one is (worker/db/shards.ts `placeSession`, near the
 * restoring GM): its rows on that shard first, then its directory entry and memberships in the
 * directory, as `SessionObject.createSession` writes them.
 */
import type { AnyEntity, EntityType } from "../../domain/entities";
import { type Failure, fail } from "../../domain/errors";
import { applyMergePatch, type Json } from "../../domain/merge-patch";
import { creation } from "../../domain/plan";
import { type Db, nowIso } from "../db/client";
import { changeLogRow } from "../db/commit";
import { insertStatements, upsertStatements } from "../db/entities";
import { activationTimeline, assets, changeLog, gameSessions, sessionDirectory, sessionMembers } from "../db/schema";
import { directoryDb, forgetShard, type Origin, placeSession, type ShardInfo, shardDb } from "../db/shards";
import { randomToken, sha256Hex } from "../lib/crypto";
import { registry } from "../registry";
import { parseJsonl } from "./backup";
import { type BackupManifest, type BackupRef, listBackups } from "./layout";

class CorruptBackup extends Error {}

async function readManifest(bucket: R2Bucket, ref: BackupRef): Promise<BackupManifest | undefined> {
  const object = await bucket.get(`${ref.prefix}manifest.json`);
  return object ? ((await object.json()) as BackupManifest) : undefined;
}

async function readFile<T>(bucket: R2Bucket, ref: BackupRef, manifest: BackupManifest, name: string): Promise<T[]> {
  const entry = manifest.files.find((f) => f.name === name);
  if (!entry) return [];
  const object = await bucket.get(`${ref.prefix}${name}`);
  if (!object) throw new CorruptBackup(`${ref.prefix}${name} is missing`);
  const text = await object.text();
  if ((await sha256Hex(text)) !== entry.sha256) throw new CorruptBackup(`${ref.prefix}${name} does not match its checksum`);
  return parseJsonl<T>(text);
}

export interface RestoreResult {
  ok: true;
  session: { id: string; name: string; created_at: string };
  invite_code: string;
  /** The seq of the original session that the restored state corresponds to. */
  restored_seq: number;
  seq: number;
}

type ChangeRow = typeof changeLog.$inferSelect;

/**
 * Rebuilds `sessionId` as it was at `at` into a new session whose GM is `userId`, on the shard
 * placement picks for a request from `origin`.
 */
export async function restoreSession(
  env: Env,
  sessionId: string,
  at: Date,
  userId: string,
  origin: Origin = {},
): Promise<RestoreResult | Failure> {
  const bucket = env.ASSETS;
  const refs = await listBackups(bucket, sessionId);
  const iso = at.toISOString();
  const full = refs.filter((r) => r.kind === "full" && r.createdAt <= iso).at(-1);
  if (!full) return fail("not_found", "no backup of this session covers that time", { at: iso });
  try {
    const manifest = await readManifest(bucket, full);
    if (!manifest) return fail("not_found", "the snapshot for that time is incomplete", { backup: full.prefix });
    const [session] = await readFile<typeof gameSessions.$inferSelect>(bucket, full, manifest, "game_sessions.jsonl");
    if (!session) throw new CorruptBackup("the snapshot holds no session");
    const members = await readFile<typeof sessionMembers.$inferSelect>(bucket, full, manifest, "session_members.jsonl");
    const manifestAssets = await readFile<typeof assets.$inferSelect>(bucket, full, manifest, "assets.jsonl");
    const state = new Map<string, { type: EntityType; entity: AnyEntity }>();
    for (const type of registry.types) {
      for (const entity of await readFile<AnyEntity>(bucket, full, manifest, `${type}.jsonl`))
        state.set(`${type}:${entity.id}`, { type, entity });
    }

    // Replay the increments that continue the snapshot, change by change, up to the time.
    let seq = full.toSeq;
    for (const ref of refs.filter((r) => r.kind === "incr" && r.toSeq > full.toSeq)) {
      if (ref.fromSeq > seq) break; // a gap: nothing after it can be trusted to apply
      const incr = await readManifest(bucket, ref);
      if (!incr) break;
      const rows = await readFile<ChangeRow>(bucket, ref, incr, "change_log.jsonl");
      for (const row of rows) {
        if (row.seq <= seq) continue;
        if (row.created_at > iso) break;
        const key = `${row.entity_type}:${row.entity_id}`;
        const before = state.get(key)?.entity;
        const next = applyMergePatch(before as Json | undefined, row.diff as Json) as AnyEntity;
        state.set(key, { type: row.entity_type as EntityType, entity: { ...next, archived_at: next.archived_at ?? null } });
        seq = row.seq;
      }
      if (seq < ref.toSeq) break;
    }
    const shard = await placeSession(env, origin);
    return await writeRestored(env, shard, { session, members, manifestAssets, state, restoredSeq: seq, at: iso, userId });
  } catch (error) {
    if (error instanceof CorruptBackup) return fail("unavailable", `the backup cannot be used: ${error.message}`);
    throw error;
  }
}

async function writeRestored(
  env: Env,
  shard: ShardInfo,
  input: {
    session: typeof gameSessions.$inferSelect;
    members: (typeof sessionMembers.$inferSelect)[];
    manifestAssets: (typeof assets.$inferSelect)[];
    state: Map<string, { type: EntityType; entity: AnyEntity }>;
    restoredSeq: number;
    at: string;
    userId: string;
  },
): Promise<RestoreResult> {
  const db: Db = shardDb(env, shard.name);
  const now = nowIso();
  const id = crypto.randomUUID();
  const inviteCode = randomToken(12);
  const name = `${input.session.name} (restored ${input.at.slice(0, 16).replace("T", " ")})`.slice(0, 200);
  const members = new Map(input.members.map((m) => [m.user_id, { ...m, session_id: id }]));
  members.set(input.userId, { session_id: id, user_id: input.userId, role: "gm", joined_at: now });
  const gmIds = [...members.values()]
    .filter((m) => m.role === "gm")
    .map((m) => m.user_id)
    .sort();

  const byType = new Map<EntityType, AnyEntity[]>();
  for (const { type, entity } of input.state.values()) {
    const fixed = type === "session_state" ? { ...entity, gm_user_ids: gmIds } : entity;
    byType.set(type, [...(byType.get(type) ?? []), fixed]);
  }
  // The new session's log starts with one create per entity, at the version it had.
  let seq = 0;
  const log: (typeof changeLog.$inferInsert)[] = [];
  for (const [type, entities] of byType) {
    for (const entity of entities) {
      seq += 1;
      log.push(await changeLogRow(id, creation(seq, type, entity, false), now));
    }
  }
  // Late joiners land on the restored active scene.
  const active = [...input.state.values()].find((s) => s.type === "session_state")?.entity.active_scene_id;
  const timeline =
    typeof active === "string"
      ? [{ session_id: id, seq, kind: "activate" as const, scene_id: active, map_asset: null, user_id: input.userId, created_at: now }]
      : [];
  const statements = [
    db.insert(gameSessions).values({
      id,
      name,
      invite_code: inviteCode,
      created_by: input.userId,
      created_at: now,
      seq,
      log_floor: 0,
      settings: input.session.settings,
    }),
    ...insertStatements(
      db,
      assets,
      input.manifestAssets.map((a) => ({ ...a, session_id: id })),
    ),
    ...[...byType].flatMap(([type, entities]) => upsertStatements(db, id, type, entities)),
    ...insertStatements(db, changeLog, log),
    ...insertStatements(db, activationTimeline, timeline),
  ];
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
  // The shard's rows first, then the directory entry and the members: a failure between leaves
  // rows no one can reach (and nothing listed that does not exist).
  const directory = directoryDb(env);
  const [entry, ...memberRows] = [
    directory.insert(sessionDirectory).values({
      session_id: id,
      shard: shard.name,
      region: shard.region,
      name,
      invite_code: inviteCode,
      created_by: input.userId,
      created_at: now,
    }),
    ...insertStatements(directory, sessionMembers, [...members.values()]),
  ];
  await directory.batch([entry, ...memberRows]);
  forgetShard(id);
  return { ok: true, session: { id, name, created_at: now }, invite_code: inviteCode, restored_seq: input.restoredSeq, seq };
}
