import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTable, TestUser } from "../helpers/client";
import { directoryOne, one } from "../helpers/sql";

/** The code joining checks (the directory's), after checking the session's head on its shard keeps the same. */
async function storedCode(sid: string): Promise<string | undefined> {
  const listed = await directoryOne<{ invite_code: string }>("SELECT invite_code FROM session_directory WHERE session_id = ?", sid);
  const head = await one<{ invite_code: string }>(sid, "SELECT invite_code FROM game_sessions WHERE id = ?", sid);
  expect(head?.invite_code).toBe(listed?.invite_code);
  return listed?.invite_code;
}

describe("POST {S}/invite", () => {
  it("gives the GM a new invite code, stores it and shows it in the session read", async () => {
    const { gm, sid, base, inviteCode } = await newTable();
    const r = await gm.req("POST", `${base}/invite`);
    expect(r.status).toBe(200);
    expect(typeof r.body.invite_code).toBe("string");
    expect(r.body.invite_code).not.toBe(inviteCode);
    expect(await storedCode(sid)).toBe(r.body.invite_code);
    const detail = await gm.req("GET", base);
    expect(detail.body.invite_code).toBe(r.body.invite_code);
  });

  it("lets a new user join with the new code", async () => {
    const { gm, sid, base } = await newTable();
    const { body } = await gm.req("POST", `${base}/invite`);
    const newcomer = await TestUser.register("new");
    const joined = await newcomer.req("POST", "/api/vtt/sessions/join", { invite_code: body.invite_code });
    expect(joined.status).toBe(200);
    expect(joined.body).toMatchObject({ session: { id: sid }, role: "player" });
  });

  it("refuses the old code afterwards exactly like an unknown one", async () => {
    const { gm, sid, base, inviteCode } = await newTable();
    await gm.req("POST", `${base}/invite`);
    const late = await TestUser.register("late");
    const old = await late.req("POST", "/api/vtt/sessions/join", { invite_code: inviteCode });
    const unknown = await late.req("POST", "/api/vtt/sessions/join", { invite_code: "no-such-code-at-all" });
    expect(old.status).toBe(404);
    expect(old.body).toEqual(unknown.body);
    expect(old.body.error.code).toBe("not_found");
    const member = await env.DB.prepare("SELECT 1 FROM session_members WHERE session_id = ? AND user_id = ?").bind(sid, late.id).first();
    expect(member).toBeNull();
  });

  it("keeps the members who joined with the old code", async () => {
    const { gm, player, base } = await newTable();
    await gm.req("POST", `${base}/invite`);
    const state = await player.req("GET", `${base}/state`);
    expect(state.status).toBe(200);
  });

  it("answers 403 to a player and leaves the code as it was", async () => {
    const { player, sid, base, inviteCode } = await newTable();
    const r = await player.req("POST", `${base}/invite`);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden");
    expect(await storedCode(sid)).toBe(inviteCode);
  });

  it("answers 404 to a user of another session and leaves the code as it was", async () => {
    const { sid, base, inviteCode } = await newTable();
    const stranger = await TestUser.register("stranger");
    await stranger.req("POST", "/api/vtt/sessions", { name: "Elsewhere" });
    const r = await stranger.req("POST", `${base}/invite`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("not_found");
    expect(await storedCode(sid)).toBe(inviteCode);
  });

  it("answers 403 csrf without the CSRF token and leaves the code as it was", async () => {
    const { gm, sid, base, inviteCode } = await newTable();
    const r = await gm.req("POST", `${base}/invite`, undefined, { "x-csrf-token": "" });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("csrf");
    expect(await storedCode(sid)).toBe(inviteCode);
  });

  it("answers 401 when signed out", async () => {
    const { sid, base, inviteCode } = await newTable();
    const r = await new TestUser().req("POST", `${base}/invite`);
    expect(r.status).toBe(401);
    expect(await storedCode(sid)).toBe(inviteCode);
  });
});
