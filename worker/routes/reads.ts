import { Hono } from "hono";
import { z } from "zod";
import type { Role } from "../../domain/permissions";
import type { ChangeRow } from "../../domain/protocol";
import { ApiError } from "../api-error";
import type { Db } from "../db/client";
import { changesSince, type Delta, loadState } from "../db/reads";
import type { ShardReader } from "../db/replicas";
import { sessionDb } from "../db/shards";
import { logError } from "../lib/log";
import { headOf } from "../middleware/auth";
import type { LogRows } from "../session/log-reads";
import { readLog, sessionStub } from "../session/stub";
import type { AppEnv, Membership } from "../types";

/** The seq named by `If-None-Match: "<seq>"` (the highest of a list): what the client holds. */
function heldSeq(header: string | undefined): number | undefined {
  let held: number | undefined;
  for (const tag of header?.split(",") ?? []) {
    const match = /^"(\d{1,15})"$/.exec(tag.trim().replace(/^W\//, ""));
    if (match?.[1]) held = Math.max(held ?? 0, Number(match[1]));
  }
  return held;
}

/**
 * The session's head as the request's reads see it, never behind `held` (the seq the client
 * holds): a replica behind it leaves the reads to the primary (db/replicas.ts).
 */
async function headAtLeast(member: Membership, held: number | undefined) {
  const head = await headOf(member);
  const reader = member.reader?.();
  if (!reader || held === undefined || head.seq >= held || reader.onPrimary) return head;
  reader.toPrimary();
  return (await reader.head()) ?? head;
}

/** The request's reads: on the reader's D1 session (a replica) for a GET, else the shard's primary. */
async function readDb(env: Env, member: Membership): Promise<{ db: Db; reader?: ShardReader }> {
  const reader = member.reader?.();
  return reader ? { db: reader.db(), reader } : { db: await sessionDb(env, member.sessionId) };
}

/** `If-None-Match: "<seq>"` (possibly a list) names the current seq. */
function matchesSeq(header: string | undefined, seq: number): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === `"${seq}"`);
}

export const changesQuery = z.strictObject({ since: z.string().regex(/^\d{1,15}$/, "since is a seq: a non-negative integer") });

/**
 * One row per entity, its latest, in seq order. A token that came into a player's view carries
 * what hangs on it (`related`): a later row of it without keeps it, the client has no other way.
 */
function latestRows(rows: readonly ChangeRow[]): ChangeRow[] {
  const byEntity = new Map<string, ChangeRow>();
  for (const row of rows) {
    const key = `${row.entity_type}:${row.entity_id}`;
    const before = byEntity.get(key);
    byEntity.delete(key);
    byEntity.set(key, before?.related && !row.related && !row.removed ? { ...row, related: before.related } : row);
  }
  return [...byEntity.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * D1's delta after `since`, with what the session's write log adds after the seq D1 holds (the
 * log was read first: D1 only moves on by taking the log's oldest batches, so the two meet without
 * a gap). A `since` inside the log is answered from the log alone.
 */
async function changesWithLog(env: Env, member: Membership, since: number, role: Role, userId: string, log: LogRows) {
  const { sessionId } = member;
  if (log.kind === "reload") return { kind: "reload", seq: log.seq } satisfies Delta;
  if (log.kind === "rows" && since >= log.floor && since <= log.top) {
    return { kind: "changes", seq: log.top, changes: latestRows(log.rows) } satisfies Delta;
  }
  let delta = await changesSince((await readDb(env, member)).db, sessionId, since, role, userId);
  if (log.kind === "rows") {
    if (delta.kind === "reload") return { kind: "reload", seq: Math.max(delta.seq, log.top) } satisfies Delta;
    if (delta.kind === "changes" && delta.seq >= log.floor) {
      // A commit that landed between D1's reads is in its rows: everything up to them is covered.
      const covered = Math.max(delta.seq, ...delta.changes.map((r) => r.seq));
      const changes = latestRows([...delta.changes, ...log.rows.filter((r) => r.seq > covered)]);
      return { kind: "changes", seq: Math.max(covered, log.top), changes } satisfies Delta;
    }
  }
  // Ahead of D1 and of what the log can answer (it kept a change not as sent): once D1 holds the log.
  const settled = () =>
    sessionStub(env, sessionId)
      .settle(sessionId)
      .catch((error: unknown) => {
        logError("waiting for D1 to hold the session's log failed", error);
        return false;
      });
  if (delta.kind === "gone" && since > delta.seq && (await settled())) {
    // D1's primary holds the log now; a replica may not yet.
    member.reader?.().toPrimary();
    delta = await changesSince((await readDb(env, member)).db, sessionId, since, role, userId);
  }
  return delta;
}

export const readRoutes = new Hono<AppEnv>()
  .get("/state", async (c) => {
    const member = c.get("member");
    const { sessionId, role } = member;
    // Never a state older than the one the client holds (a replica behind it: the primary).
    const { seq } = await headAtLeast(member, heldSeq(c.req.header("if-none-match")));
    c.header("ETag", `"${seq}"`);
    c.header("Cache-Control", "no-cache");
    // The seq was read with the caller's membership: a poll that changes nothing costs one query.
    if (matchesSeq(c.req.header("if-none-match"), seq)) return c.body(null, 304);
    const state = await loadState((await readDb(c.env, member)).db, sessionId, role, c.get("user").id);
    c.header("ETag", `"${state.seq}"`);
    return c.json(state);
  })
  .get("/changes", async (c) => {
    const query = changesQuery.safeParse(c.req.query());
    if (!query.success)
      throw new ApiError("bad_request", "send ?since=<seq>", { fields: [{ field: "since", message: "a non-negative integer" }] });
    const since = Number(query.data.since);
    const { sessionId, role } = c.get("member");
    const member = c.get("member");
    const [{ seq }, log] = await Promise.all([
      // Never older than `since`, the seq the client holds (a replica behind it: the primary).
      headAtLeast(member, since),
      // What the session logged and D1 may not hold yet (sent to the sockets already).
      // The object out of reach (reset by a deploy, overloaded): D1 alone answers, as it holds
      // every answered write; what only the log holds comes with the next poll.
      readLog(c.env, sessionId, since, role, c.get("user").id).catch((error: unknown): LogRows => {
        logError("reading the session's write log failed: changes answered from D1 alone", error);
        return { kind: "unknown" };
      }),
    ]);
    const userId = c.get("user").id;
    c.header("Cache-Control", "no-cache");
    const nothingLogged = log.kind === "empty" || (log.kind === "rows" && since >= log.top);
    if (nothingLogged && matchesSeq(c.req.header("if-none-match"), seq) && since === seq) {
      c.header("ETag", `"${seq}"`);
      return c.body(null, 304);
    }
    const delta = await changesWithLog(c.env, member, since, role, userId, log);
    c.header("ETag", `"${delta.seq}"`);
    if (delta.kind === "gone") {
      throw new ApiError("gone", "that seq is older than the retained change log: reload the state", { seq: delta.seq });
    }
    if (delta.kind === "reload") return c.json({ seq: delta.seq, reload: true, changes: [] });
    return c.json({ seq: delta.seq, changes: delta.changes });
  });
