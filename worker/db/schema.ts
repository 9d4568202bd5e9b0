/**
 * The D1 schema. Property names are the contract's field names, so an entity row read from D1 is
 * the entity the API returns once `session_id` is dropped. JSON columns hold the free-form
 * metadata, stats, flags and payloads modules extend without schema changes.
 */
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Crop } from "../../domain/entities";
import type { JsonObject } from "../../domain/merge-patch";

// ---- accounts ----------------------------------------------------------------------------------

export const users = sqliteTable("users", {
  id: text().primaryKey(),
  username: text().notNull().unique(),
  password_hash: text().notNull(),
  created_at: text().notNull(),
});

/** Cookie logins. `id` is the SHA-256 of the cookie value; the value itself is never stored. */
export const loginSessions = sqliteTable(
  "login_sessions",
  {
    id: text().primaryKey(),
    user_id: text().notNull(),
    csrf_token: text().notNull(),
    created_at: text().notNull(),
    expires_at: text().notNull(),
  },
  (t) => [index("login_sessions_user").on(t.user_id), index("login_sessions_expiry").on(t.expires_at)],
);

/** Bearer tokens for scripts and the CLI, stored as SHA-256 hashes. */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text().primaryKey(),
    user_id: text().notNull(),
    name: text().notNull(),
    token_hash: text().notNull().unique(),
    created_at: text().notNull(),
    /** Written at most once a minute per token (worker/middleware/auth.ts), not on every request. */
    last_used_at: text(),
    /** Null: the token never expires. An expired token authenticates nothing. */
    expires_at: text(),
  },
  (t) => [index("api_tokens_user").on(t.user_id)],
);

/**
 * Failed logins per username (worker/routes/auth-throttle.ts): consecutive failures and until when
 * the username is refused. In D1 so the count is one across every location and isolate.
 */
export const loginFailures = sqliteTable("login_failures", {
  username: text().primaryKey(),
  failures: integer().notNull(),
  /** Milliseconds since the epoch; logins before it answer 429. */
  locked_until: integer().notNull(),
});

/**
 * Fixed-window counters of the per-user and per-address limits (worker/middleware/rate-limit.ts):
 * `key` names the limit and whom it counts (`backup:user:<id>`, `register:ip:<addr>`), one atomic
 * upsert per attempt.
 */
export const rateWindows = sqliteTable("rate_windows", {
  key: text().primaryKey(),
  window_start: integer().notNull(),
  count: integer().notNull(),
});

// ---- game sessions -----------------------------------------------------------------------------

export const gameSessions = sqliteTable("game_sessions", {
  id: text().primaryKey(),
  name: text().notNull(),
  invite_code: text().notNull().unique(),
  created_by: text().notNull(),
  created_at: text().notNull(),
  /** The last assigned change sequence number; written in the same batch as its change_log row. */
  seq: integer().notNull().default(0),
  /** Changes with seq > log_floor are retained; `changes?since` below it answers 410. */
  log_floor: integer().notNull().default(0),
  /** Per-session rollout flags (realtime on/off, polling interval). */
  settings: text({ mode: "json" }).$type<JsonObject>().notNull().default({}),
});

/**
 * The session directory (worker/db/shards.ts), in the directory database: which database (shard,
 * a D1 binding name) holds a session's rows, the region it was placed in, and what the directory
 * says of it (`active`, or `moving` while a move copies it). Its name and invite code are here too:
 * listing a user's sessions and joining by code never need a shard.
 */
export const sessionDirectory = sqliteTable(
  "session_directory",
  {
    session_id: text().primaryKey(),
    shard: text().notNull(),
    region: text().notNull(),
    state: text({ enum: ["active", "moving"] })
      .notNull()
      .default("active"),
    name: text().notNull(),
    invite_code: text().notNull().unique(),
    created_by: text().notNull(),
    created_at: text().notNull(),
    moved_at: text(),
  },
  (t) => [index("session_directory_shard").on(t.shard)],
);

export const sessionMembers = sqliteTable(
  "session_members",
  {
    session_id: text().notNull(),
    user_id: text().notNull(),
    role: text({ enum: ["gm", "player"] }).notNull(),
    joined_at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.user_id] }), index("session_members_user").on(t.user_id)],
);

// ---- entities ----------------------------------------------------------------------------------

const entityColumns = () => ({
  session_id: text().notNull(),
  id: text().notNull(),
  version: integer().notNull(),
  created_at: text().notNull(),
  updated_at: text().notNull(),
  updated_by: text().notNull(),
  archived_at: text(),
});

export const scenes = sqliteTable(
  "scenes",
  {
    ...entityColumns(),
    name: text().notNull(),
    description: text().notNull(),
    map_asset: text(),
    grid_scale: real().notNull(),
    grid_units: text().notNull(),
    // The grid fitted to the map; scenes made before it keep the table's 64-px cells.
    grid_type: text({ enum: ["square"] })
      .notNull()
      .default("square"),
    grid_size: real().notNull().default(64),
    grid_offset_x: real().notNull().default(0),
    grid_offset_y: real().notNull().default(0),
    accent_color: text(),
    folder_id: text(),
    sort: real().notNull(),
    metadata: text({ mode: "json" }).$type<JsonObject>().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.session_id, t.id] }),
    index("scenes_folder").on(t.session_id, t.folder_id),
    // Asset GC asks "does any scene, archived or not, still show this map?"
    index("scenes_map_asset").on(t.session_id, t.map_asset),
  ],
);

export const folders = sqliteTable(
  "folders",
  {
    ...entityColumns(),
    name: text().notNull(),
    kind: text({ enum: ["scene", "token"] }).notNull(),
    parent_id: text(),
    sort: real().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.id] }), index("folders_parent").on(t.session_id, t.parent_id)],
);

export const sceneLayers = sqliteTable(
  "scene_layers",
  {
    ...entityColumns(),
    scene_id: text().notNull(),
    layer_type: text({ enum: ["map", "drawings", "notes", "fog"] }).notNull(),
    payload: text({ mode: "json" }).$type<JsonObject>().notNull(),
    z_index: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.id] }), index("scene_layers_scene").on(t.session_id, t.scene_id)],
);

export const tokens = sqliteTable(
  "tokens",
  {
    ...entityColumns(),
    scene_id: text(),
    name: text().notNull(),
    folder_id: text(),
    stats: text({ mode: "json" }).$type<JsonObject>().notNull(),
    width: real().notNull(),
    height: real().notNull(),
    x: real().notNull(),
    y: real().notNull(),
    rotation: real().notNull(),
    hidden: integer({ mode: "boolean" }).notNull(),
    stamina: real(),
    school: text(),
    owner_user_ids: text({ mode: "json" }).$type<string[]>().notNull(),
    created_by: text().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.session_id, t.id] }),
    index("tokens_scene").on(t.session_id, t.scene_id),
    index("tokens_folder").on(t.session_id, t.folder_id),
  ],
);

export const tokenArt = sqliteTable(
  "token_art",
  {
    ...entityColumns(),
    token_id: text().notNull(),
    image_asset: text().notNull(),
    crop: text({ mode: "json" }).$type<Crop>().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.session_id, t.id] }),
    index("token_art_token").on(t.session_id, t.token_id),
    // Asset GC asks "does any token art, archived or not, still use this image?"
    index("token_art_image_asset").on(t.session_id, t.image_asset),
  ],
);

export const sessionState = sqliteTable(
  "session_state",
  {
    ...entityColumns(),
    active_scene_id: text(),
    flags: text({ mode: "json" }).$type<JsonObject>().notNull(),
    gm_user_ids: text({ mode: "json" }).$type<string[]>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.id] }), uniqueIndex("session_state_one").on(t.session_id)],
);

// ---- change tracking ---------------------------------------------------------------------------

/**
 * One row per change, gap-free `seq` per session. `diff` is the JSON Merge Patch from the previous
 * version (the whole entity on create). `visible_before`/`visible_after` record whether players
 * could see the entity before and after the change, so deltas can tell players about removals.
 */
export const changeLog = sqliteTable(
  "change_log",
  {
    session_id: text().notNull(),
    seq: integer().notNull(),
    entity_type: text().notNull(),
    entity_id: text().notNull(),
    version: integer().notNull(),
    op: text({ enum: ["create", "update", "archive", "restore"] }).notNull(),
    diff: text({ mode: "json" }).notNull(),
    payload_hash: text().notNull(),
    visible_before: integer({ mode: "boolean" }).notNull(),
    visible_after: integer({ mode: "boolean" }).notNull(),
    updated_by: text().notNull(),
    created_at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.seq] }), index("change_log_entity").on(t.session_id, t.entity_type, t.entity_id, t.seq)],
);

/** Idempotency: every applied op id with the result it produced. */
export const appliedOps = sqliteTable(
  "applied_ops",
  {
    session_id: text().notNull(),
    op_id: text().notNull(),
    seq: integer().notNull(),
    entity_type: text().notNull(),
    entity_id: text().notNull(),
    result: text({ mode: "json" }).notNull(),
    created_at: text().notNull(),
    /**
     * Who sent the op and which op it was (create, update, archive, restore, revert): a replay must
     * match them. Null on rows stored before they were recorded and not verified from the change
     * log: such a row answers no replay (409).
     */
    user_id: text(),
    op: text(),
  },
  (t) => [
    primaryKey({ columns: [t.session_id, t.op_id] }),
    // Retention (worker/jobs/retention.ts) drops a session's records at or below its log floor.
    index("applied_ops_seq").on(t.session_id, t.seq),
  ],
);

/** Rolling timeline of scene activations (and map swaps) for late joiners. */
export const activationTimeline = sqliteTable(
  "activation_timeline",
  {
    session_id: text().notNull(),
    seq: integer().notNull(),
    kind: text({ enum: ["activate", "map"] }).notNull(),
    scene_id: text(),
    map_asset: text(),
    user_id: text().notNull(),
    created_at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.seq, t.kind] })],
);

// ---- real time ---------------------------------------------------------------------------------

export const sessionClients = sqliteTable(
  "session_clients",
  {
    client_id: text().primaryKey(),
    session_id: text().notNull(),
    user_id: text().notNull(),
    role: text({ enum: ["gm", "player"] }).notNull(),
    connected_at: text().notNull(),
    last_seen: text().notNull(),
    disconnected_at: text(),
    capabilities: text({ mode: "json" }).$type<JsonObject>().notNull(),
  },
  (t) => [index("session_clients_session").on(t.session_id, t.disconnected_at)],
);

export const sessionLocks = sqliteTable(
  "session_locks",
  {
    session_id: text().notNull(),
    scene_id: text().notNull(),
    holder_user_id: text().notNull(),
    acquired_at: text().notNull(),
    expires_at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.scene_id] })],
);

export const acknowledgements = sqliteTable(
  "acknowledgements",
  {
    session_id: text().notNull(),
    client_id: text().notNull(),
    event_id: integer().notNull(),
    user_id: text().notNull(),
    acked_at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.client_id, t.event_id] })],
);

// ---- assets ------------------------------------------------------------------------------------

/**
 * Manifest of uploaded files, per session. `hash` is the SHA-256 of the bytes stored in R2 (the
 * object at `r2_key`, shared by every session that uploaded the same bytes); `original_hash` is
 * that of the bytes uploaded (different for token art, which is stored resized), so the same
 * original uploaded again is found without decoding it. `last_referenced_at` is when an entity
 * was last seen using the asset (set by the cleanup job) or when it was uploaded again.
 */
export const assets = sqliteTable(
  "assets",
  {
    session_id: text().notNull(),
    hash: text().notNull(),
    kind: text({ enum: ["map", "token"] }).notNull(),
    mime: text().notNull(),
    size: integer().notNull(),
    width: integer().notNull(),
    height: integer().notNull(),
    r2_key: text().notNull(),
    uploaded_by: text().notNull(),
    created_at: text().notNull(),
    last_referenced_at: text(),
    mirrored_at: text(),
    original_hash: text(),
  },
  (t) => [
    primaryKey({ columns: [t.session_id, t.hash] }),
    index("assets_r2_key").on(t.r2_key),
    index("assets_original").on(t.session_id, t.original_hash),
  ],
);

/**
 * Assets the cleanup job has taken out of the manifest and whose R2 object it will delete on a
 * later run, once no write that raced the removal can still be in flight (see worker/assets/gc.ts).
 * `row` is the manifest row, to put back if an entity turns out to reference it after all.
 */
export const assetDeletions = sqliteTable(
  "asset_deletions",
  {
    session_id: text().notNull(),
    hash: text().notNull(),
    r2_key: text().notNull(),
    row: text({ mode: "json" }).$type<Record<string, unknown>>().notNull(),
    queued_at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.hash] }), index("asset_deletions_queued").on(t.queued_at)],
);

/** Upload throttle: a fixed one-minute window per user, counted in one atomic upsert. */
export const assetUploadWindows = sqliteTable("asset_upload_windows", {
  user_id: text().primaryKey(),
  window_start: integer().notNull(),
  count: integer().notNull(),
});

/**
 * Scene imports made with an `Idempotency-Key` (routes/bundles.ts): the first successful answer,
 * returned again to a request with the same key, user and session instead of a second copy.
 * `body_sha256` tells a retry of the same bundle from another bundle sent with the same key.
 */
export const importResults = sqliteTable(
  "import_results",
  {
    session_id: text().notNull(),
    user_id: text().notNull(),
    idempotency_key: text().notNull(),
    body_sha256: text().notNull(),
    result: text({ mode: "json" }).$type<Record<string, unknown>>().notNull(),
    created_at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.user_id, t.idempotency_key] })],
);

/**
 * Entities of the types game modules declare (domain/module-api.ts), all in one table: the common
 * entity columns, `data` holding the module's own fields as JSON, and `scene_id` copied from the
 * field the module names as the entity's scene (for loading one scene's entities). One generic
 * table means a module brings no migration and no core change; the core reads module entities
 * by id, by type and by scene, and modules filter the rest in memory.
 */
export const moduleEntities = sqliteTable(
  "module_entities",
  {
    ...entityColumns(),
    entity_type: text().notNull(),
    scene_id: text(),
    data: text({ mode: "json" }).$type<JsonObject>().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.session_id, t.entity_type, t.id] }),
    index("module_entities_scene").on(t.session_id, t.entity_type, t.scene_id),
  ],
);

export const entityTables = {
  scene: scenes,
  folder: folders,
  layer: sceneLayers,
  token: tokens,
  token_art: tokenArt,
  session_state: sessionState,
} as const;

// ---- operations --------------------------------------------------------------------------------

/**
 * What the integrity job (worker/jobs/integrity.ts) found wrong in a session: a reference to an
 * entity or asset that does not exist, or an asset whose R2 object is missing or holds other bytes.
 * `id` is derived from (kind, entity_type, entity_id, field), so a finding seen again updates its
 * row: `last_seen_at` moves on; once no longer found, `resolved_at` is set (and cleared if it
 * comes back). Findings are only reported: the job never deletes or repairs anything.
 */
export const integrityFindings = sqliteTable(
  "integrity_findings",
  {
    session_id: text().notNull(),
    id: text().notNull(),
    kind: text({ enum: ["dangling_reference", "missing_object", "checksum_mismatch"] }).notNull(),
    entity_type: text().notNull(),
    entity_id: text().notNull(),
    field: text().notNull(),
    detail: text({ mode: "json" }).$type<Record<string, unknown>>().notNull(),
    first_seen_at: text().notNull(),
    last_seen_at: text().notNull(),
    resolved_at: text(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.id] }), index("integrity_findings_open").on(t.session_id, t.resolved_at)],
);

/** When the integrity job last checked each session, and how many findings were open after it. */
export const integrityRuns = sqliteTable("integrity_runs", {
  session_id: text().primaryKey(),
  checked_at: text().notNull(),
  open_findings: integer().notNull(),
});

/**
 * The local fallback of the metrics recorder (worker/metrics/recorder.ts) when no Analytics Engine
 * dataset is bound: counters and histogram buckets aggregated in place by one upsert each.
 * `labels` is the label set as a JSON object (`{"route":"rest","outcome":"ok"}`), `bucket` a
 * histogram bucket's upper bound (`le`: "5" … "+Inf") or "" for a plain counter or a sum.
 */
export const metricCounters = sqliteTable(
  "metric_counters",
  {
    name: text().notNull(),
    labels: text().notNull(),
    bucket: text().notNull(),
    value: real().notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.labels, t.bucket] })],
);

/**
 * Change-log compaction (worker/jobs/compact-log.ts): each entity's state folded from the change
 * log rows that were compacted away, so its history and reverts still start from a full state.
 */
export const entityBaselines = sqliteTable(
  "entity_baselines",
  {
    session_id: text().notNull(),
    entity_type: text().notNull(),
    entity_id: text().notNull(),
    version: integer().notNull(),
    seq: integer().notNull(),
    state: text({ mode: "json" }).notNull(),
    updated_by: text().notNull(),
    created_at: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.session_id, t.entity_type, t.entity_id] })],
);
