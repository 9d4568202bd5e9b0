/**
 * The fog module in the web app: its two entity types for the data layer (both live on a scene,
 * so a GM preparing another scene loads them with that scene), the GM's tools (in the table's
 * floating tool bar) and the overlay
 * that draws the fog over the map and the tokens.
 */
import type { ClientModule } from "../../client/src/lib/modules";
import { FogOverlay } from "./FogOverlay";
import { FogTools } from "./FogTools";

export const fogClientModule: ClientModule = {
  name: "fog",
  entities: [
    { type: "fog", path: "fog", sceneField: "scene_id" },
    { type: "fog_chunk", path: "fog-chunks", sceneField: "scene_id" },
  ],
  Tools: FogTools,
  CanvasOverlay: FogOverlay,
};
