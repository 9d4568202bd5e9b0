/**
 * Each person's camera on each scene, kept in this browser (IndexedDB) so a reload opens the table
 * where they left it. Never synced: another person's zoom is none of the table's business. One
 * small database for every user and session (`vtt-cameras`), keyed `user:session:scene`.
 */
import { type DBSchema, type IDBPDatabase, openDB } from "idb";
import { type Camera, parseCamera } from "./camera";

interface CameraSchema extends DBSchema {
  cameras: { key: string; value: { key: string; camera: Camera; at: number } };
}

export const CAMERA_DB = "vtt-cameras";

let opening: Promise<IDBPDatabase<CameraSchema>> | null = null;

function db(): Promise<IDBPDatabase<CameraSchema>> {
  if (!opening) {
    opening = openDB<CameraSchema>(CAMERA_DB, 1, {
      upgrade(database) {
        database.createObjectStore("cameras", { keyPath: "key" });
      },
    });
    opening.catch(() => {
      opening = null;
    });
  }
  return opening;
}

export function cameraKey(userId: string, sessionId: string, sceneId: string): string {
  return `${userId}:${sessionId}:${sceneId}`;
}

export interface CameraStore {
  load(sceneId: string): Promise<Camera | null>;
  save(sceneId: string, camera: Camera): Promise<void>;
}

/** The cameras of one user in one session. Storage failures (private mode, no IndexedDB) forget quietly. */
export function createCameraStore(userId: string, sessionId: string): CameraStore {
  return {
    async load(sceneId) {
      if (typeof indexedDB === "undefined") return null;
      try {
        const record = await (await db()).get("cameras", cameraKey(userId, sessionId, sceneId));
        return parseCamera(record?.camera);
      } catch {
        return null;
      }
    },
    async save(sceneId, camera) {
      if (typeof indexedDB === "undefined" || !parseCamera(camera)) return;
      try {
        await (await db()).put("cameras", { key: cameraKey(userId, sessionId, sceneId), camera: { ...camera }, at: Date.now() });
      } catch {
        // The camera is a convenience: losing it costs one "fit map".
      }
    },
  };
}
