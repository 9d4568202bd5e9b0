import { createSignal, For, Show } from "solid-js";
import { createSubmitter } from "../lib/submit";
import type { Scene } from "../lib/types";
import { ErrorMessage } from "./ErrorMessage";
import { createGridFields, GridFields, type GridFieldsPatch } from "./SceneGridFields";

export type ScenePatch = Partial<Pick<Scene, "name" | "description" | "grid_scale" | "grid_units" | "accent_color">> & {
  folder_id?: string | null;
  /** Only ever `gm_notes` (null removes them): a merge patch leaves the rest of the metadata alone. */
  metadata?: { gm_notes: string | null };
} & GridFieldsPatch;

/** The scene's GM notes (`metadata.gm_notes`): the server never sends them to players. */
export function sceneGmNotes(scene: Scene): string {
  const notes = scene.metadata?.gm_notes;
  return typeof notes === "string" ? notes : "";
}

const TOP_LEVEL = "";
const DEFAULT_ACCENT = "#d4a547";

/** The fields of `draft` that differ from the scene: the merge patch to queue (empty: nothing to save). */
export function scenePatch(
  scene: Scene,
  draft: Required<Omit<ScenePatch, "folder_id" | "metadata" | keyof GridFieldsPatch>> & { folder_id: string | null },
): ScenePatch {
  const patch: ScenePatch = {};
  if (draft.name !== scene.name) patch.name = draft.name;
  if (draft.description !== scene.description) patch.description = draft.description;
  if (draft.grid_scale !== scene.grid_scale) patch.grid_scale = draft.grid_scale;
  if (draft.grid_units !== scene.grid_units) patch.grid_units = draft.grid_units;
  if (draft.accent_color !== scene.accent_color) patch.accent_color = draft.accent_color;
  if (draft.folder_id !== scene.folder_id) patch.folder_id = draft.folder_id;
  return patch;
}

/**
 * The GM's form for one scene: name, description, grid scale and units, accent colour and folder.
 * The draft starts from the scene as it is when the form opens; saving queues one merge patch of
 * the fields that changed. Disabled (with the reason) while another GM holds the scene's lock.
 */
export function SceneEditor(props: {
  scene: Scene;
  /** Scene folders in display order, indented by depth. */
  folders: { id: string; name: string; depth: number }[];
  /** Why the scene cannot be edited now (another GM's lock), or null. */
  lockedReason: string | null;
  onSave: (patch: ScenePatch) => Promise<unknown>;
  onClose: () => void;
}) {
  const id = (field: string) => `scene-${field}-${props.scene.id}`;
  const [name, setName] = createSignal(props.scene.name);
  const [description, setDescription] = createSignal(props.scene.description);
  const [gridScale, setGridScale] = createSignal(String(props.scene.grid_scale));
  const [gridUnits, setGridUnits] = createSignal(props.scene.grid_units);
  const [accent, setAccent] = createSignal<string | null>(props.scene.accent_color);
  const [folderId, setFolderId] = createSignal(props.scene.folder_id ?? TOP_LEVEL);
  const [gmNotes, setGmNotes] = createSignal(sceneGmNotes(props.scene));
  const [invalid, setInvalid] = createSignal<string | null>(null);
  const gridFields = createGridFields(props.scene);
  const saving = createSubmitter((patch: ScenePatch) => props.onSave(patch));

  async function handleSubmit(event: SubmitEvent) {
    event.preventDefault();
    const trimmed = name().trim();
    const scale = Number(gridScale());
    if (trimmed === "") return setInvalid("A scene needs a name.");
    if (gridScale().trim() === "" || !(Number.isFinite(scale) && scale > 0 && scale <= 100_000)) {
      return setInvalid("The grid scale is a number above 0, at most 100000.");
    }
    if (gridUnits().length > 16) return setInvalid("Grid units are at most 16 characters.");
    const grid = gridFields.patch();
    if (typeof grid === "string") return setInvalid(grid);
    setInvalid(null);
    const patch = scenePatch(props.scene, {
      name: trimmed,
      description: description(),
      grid_scale: scale,
      grid_units: gridUnits().trim(),
      accent_color: accent(),
      folder_id: folderId() === TOP_LEVEL ? null : folderId(),
    });
    const notes = gmNotes().trim();
    if (notes !== sceneGmNotes(props.scene)) patch.metadata = { gm_notes: notes === "" ? null : notes };
    Object.assign(patch, grid);
    if (Object.keys(patch).length > 0) {
      const done = await saving.run(patch);
      if (done === undefined && saving.error()) return;
    }
    props.onClose();
  }

  return (
    <form class="form scene-editor" aria-label={`Edit scene ${props.scene.name}`} onSubmit={handleSubmit}>
      <Show when={props.lockedReason}>{(reason) => <p class="hint lock-hint">{reason()}</p>}</Show>
      <fieldset class="editor-fields" disabled={props.lockedReason !== null}>
        <div class="field">
          <label for={id("name")}>Name</label>
          <input id={id("name")} required maxLength={200} value={name()} onInput={(event) => setName(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for={id("description")}>Description</label>
          <textarea
            id={id("description")}
            rows={3}
            maxLength={20_000}
            value={description()}
            onInput={(event) => setDescription(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for={id("gm-notes")}>GM notes</label>
          <textarea
            id={id("gm-notes")}
            rows={3}
            maxLength={20_000}
            aria-describedby={id("gm-notes-hint")}
            value={gmNotes()}
            onInput={(event) => setGmNotes(event.currentTarget.value)}
          />
          <p class="hint" id={id("gm-notes-hint")}>
            Only GMs see these; players never receive them.
          </p>
        </div>
        <div class="field-grid">
          <div class="field">
            <label for={id("grid-scale")}>Grid scale</label>
            <input
              id={id("grid-scale")}
              type="number"
              min="0.01"
              max="100000"
              step="any"
              inputMode="decimal"
              value={gridScale()}
              onInput={(event) => setGridScale(event.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for={id("grid-units")}>Units</label>
            <input
              id={id("grid-units")}
              maxLength={16}
              placeholder="ft"
              value={gridUnits()}
              onInput={(event) => setGridUnits(event.currentTarget.value)}
            />
          </div>
        </div>
        <GridFields fields={gridFields} sceneId={props.scene.id} />
        <div class="field">
          <span class="field-label" id={id("accent-label")}>
            Accent colour
          </span>
          <div class="field-row accent-row">
            <label class="toggle">
              <input
                type="checkbox"
                checked={accent() !== null}
                onChange={(e) => setAccent(e.currentTarget.checked ? DEFAULT_ACCENT : null)}
              />{" "}
              Use an accent colour
            </label>
            <input
              type="color"
              aria-labelledby={id("accent-label")}
              disabled={accent() === null}
              value={accent() ?? DEFAULT_ACCENT}
              onInput={(event) => setAccent(event.currentTarget.value.toLowerCase())}
            />
          </div>
        </div>
        <div class="field">
          <label for={id("folder")}>Folder</label>
          <select id={id("folder")} value={folderId()} onChange={(event) => setFolderId(event.currentTarget.value)}>
            <option value={TOP_LEVEL}>Top level</option>
            <For each={props.folders}>
              {(folder) => (
                <option value={folder.id}>
                  {"\u00a0\u00a0".repeat(folder.depth)}
                  {folder.name}
                </option>
              )}
            </For>
          </select>
        </div>
      </fieldset>
      <ErrorMessage message={invalid() ?? saving.error()} />
      <div class="button-row">
        <button type="submit" class="button-small" disabled={props.lockedReason !== null || saving.pending()}>
          Save scene
        </button>
        <button type="button" class="button-small button-quiet" onClick={() => props.onClose()}>
          Cancel
        </button>
      </div>
    </form>
  );
}
