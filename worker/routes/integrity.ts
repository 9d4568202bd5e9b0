import { Hono } from "hono";
import { checkSession, type FindingRow, lastCheck, openFindings } from "../jobs/integrity";
import { requireGm } from "../middleware/auth";
import { limitPerUser } from "../middleware/rate-limit";
import type { AppEnv } from "../types";

function view({ session_id: _, ...finding }: FindingRow) {
  return finding;
}

/** What the integrity job found in the session (GM only); `POST /integrity/check` runs it now. */
export const integrityRoutes = new Hono<AppEnv>()
  .get("/integrity", requireGm, async (c) => {
    const { sessionId } = c.get("member");
    const [findings, checkedAt] = await Promise.all([openFindings(c.env, sessionId), lastCheck(c.env, sessionId)]);
    c.header("Cache-Control", "no-store");
    return c.json({ findings: findings.map(view), checked_at: checkedAt });
  })
  .post("/integrity/check", requireGm, limitPerUser("integrity_check"), async (c) => {
    const { findings, checked_at } = await checkSession(c.env, c.get("member").sessionId, new Date());
    c.header("Cache-Control", "no-store");
    return c.json({ findings: findings.map(view), checked_at });
  });
