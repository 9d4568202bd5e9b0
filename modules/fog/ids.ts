/**
 * The ids the web app gives fog entities, deterministic so that two GMs painting at once write
 * the same entity (and get the usual conflict) instead of two. Free of zod, for the web app.
 */

/**
 * The id of a scene's fog as the app creates it. An imported fog has a new id (bundles give every
 * entity one): readers find a scene's fog by `scene_id`, not by this id.
 */
export function fogIdFor(sceneId: string): string {
  return `fog-${sceneId.slice(0, 60)}`;
}

/** The id of a fog's chunk at (cx, cy): one chunk per square, whoever paints it first. */
export function chunkId(fogId: string, cx: number, cy: number): string {
  return `${fogId.slice(0, 50)}-${cx}-${cy}`;
}
