/** Entities and snapshots for client tests: complete objects with readable defaults. */
import { createClientModuleRegistry } from "../../../client/src/lib/modules";
import type { Layer, Scene, SessionSnapshot, SessionState, Token } from "../../../client/src/lib/types";

const T0 = "2025-01-01T00:00:00.000Z";

const base = (id: string, version: number) => ({
  id,
  version,
  created_at: T0,
  updated_at: T0,
  updated_by: "u-gm",
  archived_at: null as string | null,
});

export function scene(id: string, version = 1, fields: Partial<Scene> = {}): Scene {
  return {
    ...base(id, version),
    name: `Scene ${id}`,
    description: "",
    map_asset: null,
    grid_scale: 5,
    grid_units: "ft",
    grid_type: "square",
    grid_size: 64,
    grid_offset_x: 0,
    grid_offset_y: 0,
    accent_color: null,
    folder_id: null,
    sort: 0,
    metadata: {},
    ...fields,
  };
}

export function token(id: string, version = 1, fields: Partial<Token> = {}): Token {
  return {
    ...base(id, version),
    scene_id: "s1",
    name: `Token ${id}`,
    folder_id: null,
    stats: {},
    width: 1,
    height: 1,
    x: 0,
    y: 0,
    rotation: 0,
    hidden: false,
    stamina: null,
    school: null,
    owner_user_ids: [],
    created_by: "u-gm",
    ...fields,
  };
}

export function layer(id: string, version = 1, fields: Partial<Layer> = {}): Layer {
  return { ...base(id, version), scene_id: "s1", layer_type: "map", payload: {}, z_index: 0, ...fields };
}

export function sessionState(version = 1, fields: Partial<SessionState> = {}): SessionState {
  return { ...base("st", version), active_scene_id: "s1", flags: {}, gm_user_ids: ["u-gm"], ...fields };
}

export function snapshot(fields: Partial<SessionSnapshot> & { seq: number }): SessionSnapshot {
  return {
    session: { id: "sess", name: "Table", created_at: T0, role: "gm", settings: {} },
    session_state: sessionState(),
    scenes: [],
    folders: [],
    tokens: [],
    token_art: [],
    layers: [],
    timeline: [],
    ...fields,
  };
}

/** A fresh id for databases and sessions: tests never share IndexedDB state. */
export function freshId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** A registry of no game modules: the data layer with the core's types only. */
export const noModules = createClientModuleRegistry([]);
