/**
 * The fog module in the web app: its two entity types for the data layer (both live on a scene,
 * so a GM preparing another scene loads them with that scene), the GM's panel and the overlay
 * that draws the fog over the map and the tokens.
 */
import type { ClientModule } from "../../client/src/lib/modules";
import { FogOverlay } from "./FogOverlay";
import { FogPanel } from "./FogPanel";

export const fogClientModule: ClientModule = {
  name: "fog",
  entities: [
    { type: "fog", path: "fog", sceneField: "scene_id" },
    { type: "fog_chunk", path: "fog-chunks", sceneField: "scene_id" },
  ],
  Panel: FogPanel,
  CanvasOverlay: FogOverlay,
};
