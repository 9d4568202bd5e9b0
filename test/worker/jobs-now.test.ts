import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { listBackups } from "../../worker/backup/layout";
import { runAllJobsNow } from "../../worker/scheduled";
import { create, newTable } from "../helpers/client";
import { captureQueue } from "../helpers/jobs";
import { exec, one } from "../helpers/sql";

// Its own file: it runs every job of every session of the file's databases.

const DAY = 24 * 3600_000;

async function playedTable() {
  const table = await newTable();
  const scene = await create(table.gm, table.base, "scenes", { name: "Crypt" });
  await create(table.gm, table.base, "tokens", { name: "Hero", scene_id: scene.id });
  return table;
}

describe("every job now, without the queue (the storage benchmark's route)", () => {
  it("backs up, checks, compacts and prunes every session in place, sending nothing", async () => {
    const { sid, player } = await playedTable();
    await exec(
      sid,
      "INSERT INTO session_clients (client_id, session_id, user_id, role, connected_at, last_seen, disconnected_at, capabilities) VALUES (?1, ?2, ?3, 'player', ?4, ?4, ?4, '{}')",
      `old-client-${sid}`,
      sid,
      player.id,
      "2000-01-01T00:00:00.000Z",
    );
    const capture = captureQueue();
    const later = new Date(Date.now() + 40 * DAY);
    await runAllJobsNow({ ...env, JOBS: capture.queue }, later.getTime());
    expect(capture.sent).toEqual([]);
    expect((await listBackups(env.ASSETS, sid)).map((r) => r.kind)).toEqual(["full"]);
    expect(await one(sid, "SELECT checked_at FROM integrity_runs WHERE session_id = ?", sid)).toEqual({ checked_at: later.toISOString() });
    expect(await one(sid, "SELECT count(*) AS n FROM change_log WHERE session_id = ?", sid)).toEqual({ n: 0 });
    expect(await one(sid, "SELECT client_id FROM session_clients WHERE session_id = ?", sid)).toBeNull();
  });
});
