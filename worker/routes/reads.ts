import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../api-error";
import { getDb } from "../db/client";
import { changesSince, loadState } from "../db/reads";
import { sessionStub } from "../session/stub";
import type { AppEnv } from "../types";

/** `If-None-Match: "<seq>"` (possibly a list) names the current seq. */
function matchesSeq(header: string | undefined, seq: number): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === `"${seq}"`);
}

const changesQuery = z.strictObject({ since: z.string().regex(/^\d{1,15}$/, "since is a seq: a non-negative integer") });

export const readRoutes = new Hono<AppEnv>()
  .get("/state", async (c) => {
    const { sessionId, role, seq } = c.get("member");
    c.header("ETag", `"${seq}"`);
    c.header("Cache-Control", "no-cache");
    // The seq was read with the caller's membership: a poll that changes nothing costs one query.
    if (matchesSeq(c.req.header("if-none-match"), seq)) return c.body(null, 304);
    const state = await loadState(getDb(c.env.DB), sessionId, role, c.get("user").id);
    c.header("ETag", `"${state.seq}"`);
    return c.json(state);
  })
  .get("/changes", async (c) => {
    const query = changesQuery.safeParse(c.req.query());
    if (!query.success)
      throw new ApiError("bad_request", "send ?since=<seq>", { fields: [{ field: "since", message: "a non-negative integer" }] });
    const since = Number(query.data.since);
    const { sessionId, role, seq } = c.get("member");
    c.header("Cache-Control", "no-cache");
    if (matchesSeq(c.req.header("if-none-match"), seq) && since === seq) {
      c.header("ETag", `"${seq}"`);
      return c.body(null, 304);
    }
    let delta = await changesSince(getDb(c.env.DB), sessionId, since, role, c.get("user").id);
    // Ahead of D1: the client was sent changes the session has logged but D1 does not hold yet.
    if (delta.kind === "gone" && since > delta.seq && (await sessionStub(c.env, sessionId).settle(sessionId))) {
      delta = await changesSince(getDb(c.env.DB), sessionId, since, role, c.get("user").id);
    }
    c.header("ETag", `"${delta.seq}"`);
    if (delta.kind === "gone") {
      throw new ApiError("gone", "that seq is older than the retained change log: reload the state", { seq: delta.seq });
    }
    if (delta.kind === "reload") return c.json({ seq: delta.seq, reload: true, changes: [] });
    return c.json({ seq: delta.seq, changes: delta.changes });
  });
