import RotateCcw from "lucide-solid/icons/rotate-ccw";
import RotateCw from "lucide-solid/icons/rotate-cw";
import { createSignal, For, Show } from "solid-js";
import { CROP_STAGE_PX, type Crop, initialCrop } from "../lib/crop";
import { createSubmitter } from "../lib/submit";
import type { Folder, SessionMember, Token, TokenArt } from "../lib/types";
import { assetFileUrl, type UploadedAsset } from "../lib/upload";
import { AssetUploadField } from "./AssetUploadField";
import { CroppedArt } from "./CroppedArt";
import { CropTool } from "./CropTool";
import { ErrorMessage } from "./ErrorMessage";

const NO_FOLDER = "";
const ART_PREVIEW_PX = 88;

/** The crop of newly uploaded art: covering, centred (the crop tool opens on it). */
function uploadedCrop(asset: UploadedAsset): Crop {
  return initialCrop({ width: asset.width ?? CROP_STAGE_PX, height: asset.height ?? CROP_STAGE_PX });
}

/**
 * What the GM can change on the selected token (on the table, or in the library): every change
 * is one queued merge patch. The art can be replaced (uploaded, then framed) or re-cropped.
 */
export function TokenInspector(props: {
  sessionId: string;
  token: Token;
  art: TokenArt | undefined;
  /** The session's players, who may be given the token (they can then move it). */
  players: SessionMember[];
  /** The library's folders, depth first: where a library token may be filed. */
  folders?: { folder: Folder; depth: number }[];
  onPatch: (
    patch: Partial<Pick<Token, "name" | "folder_id" | "hidden" | "rotation" | "width" | "height" | "owner_user_ids">> & {
      /** Only ever `gm_notes` (null removes them): a merge patch leaves the other stats alone. */
      stats?: { gm_notes: string | null };
    },
  ) => Promise<unknown>;
  onArchive: () => Promise<unknown>;
  onArt: (hash: string, crop: Crop) => Promise<unknown>;
  onCrop?: (crop: Crop) => Promise<unknown>;
  onClose: () => void;
}) {
  const patching = createSubmitter((patch: Parameters<typeof props.onPatch>[0]) => props.onPatch(patch), { serial: true });
  const archiving = createSubmitter(() => props.onArchive());
  const [width, setWidth] = createSignal<string | null>(null);
  const [height, setHeight] = createSignal<string | null>(null);
  const [name, setName] = createSignal<string | null>(null);
  const [notes, setNotes] = createSignal<string | null>(null);
  const savedNotes = () => (typeof props.token.stats?.gm_notes === "string" ? props.token.stats.gm_notes : "");
  const [cropping, setCropping] = createSignal(false);
  const inLibrary = () => props.token.scene_id === null;

  function rename(event: SubmitEvent) {
    event.preventDefault();
    const next = (name() ?? props.token.name).trim();
    setName(null);
    if (next !== "" && next !== props.token.name) void patching.run({ name: next });
  }

  function saveNotes(event: SubmitEvent) {
    event.preventDefault();
    const next = (notes() ?? savedNotes()).trim();
    setNotes(null);
    if (next !== savedNotes()) void patching.run({ stats: { gm_notes: next === "" ? null : next } });
  }

  function rotate(delta: number) {
    // The schema keeps rotation within ±360; wrap into (-360, 360).
    const next = (props.token.rotation + delta) % 360;
    void patching.run({ rotation: next });
  }

  function applySize(event: SubmitEvent) {
    event.preventDefault();
    const w = Number(width() ?? props.token.width);
    const h = Number(height() ?? props.token.height);
    if (!(w > 0 && h > 0 && w <= 1000 && h <= 1000)) return;
    setWidth(null);
    setHeight(null);
    void patching.run({ width: w, height: h });
  }

  return (
    <section class="card sidebar-card" aria-labelledby="inspector-heading">
      <div class="card-heading">
        <h2 id="inspector-heading">{props.token.name}</h2>
        <button type="button" class="button-small button-quiet" onClick={() => props.onClose()}>
          Deselect
        </button>
      </div>
      <p class="hint">
        {inLibrary() ? "In the library" : props.token.hidden ? "Hidden from players" : "Visible to players"} · rotation{" "}
        {props.token.rotation}° · {props.token.width}×{props.token.height} cells
      </p>
      <form class="form inline-form rename-form" onSubmit={rename}>
        <div class="field">
          <label for="token-rename">Name</label>
          <input
            id="token-rename"
            required
            maxLength={200}
            value={name() ?? props.token.name}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </div>
        <button type="submit" disabled={name() === null || name()?.trim() === "" || name() === props.token.name}>
          Rename
        </button>
      </form>
      <Show when={inLibrary() && props.folders}>
        {(folders) => (
          <div class="field">
            <label for="token-file-in">Library folder</label>
            <select
              id="token-file-in"
              value={props.token.folder_id ?? NO_FOLDER}
              onChange={(event) =>
                void patching.run({ folder_id: event.currentTarget.value === NO_FOLDER ? null : event.currentTarget.value })
              }
            >
              <option value={NO_FOLDER}>No folder</option>
              <For each={folders()}>
                {(entry) => <option value={entry.folder.id}>{`${"\u00a0\u00a0".repeat(entry.depth)}${entry.folder.name}`}</option>}
              </For>
            </select>
          </div>
        )}
      </Show>
      <div class="button-row">
        <button type="button" onClick={() => void patching.run({ hidden: !props.token.hidden })}>
          {props.token.hidden ? "Show to players" : "Hide from players"}
        </button>
        <button type="button" aria-label="Rotate left 15°" onClick={() => rotate(-15)}>
          <RotateCcw size={16} aria-hidden="true" /> 15°
        </button>
        <button type="button" aria-label="Rotate right 15°" onClick={() => rotate(15)}>
          <RotateCw size={16} aria-hidden="true" /> 15°
        </button>
      </div>
      <form class="form inline-form" onSubmit={applySize}>
        <div class="field">
          <label for="token-width">Width</label>
          <input
            id="token-width"
            type="number"
            min="0.25"
            max="1000"
            step="0.25"
            value={width() ?? String(props.token.width)}
            onInput={(event) => setWidth(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="token-height">Height</label>
          <input
            id="token-height"
            type="number"
            min="0.25"
            max="1000"
            step="0.25"
            value={height() ?? String(props.token.height)}
            onInput={(event) => setHeight(event.currentTarget.value)}
          />
        </div>
        <button type="submit">Resize</button>
      </form>
      <form class="form gm-notes-form" onSubmit={saveNotes}>
        <div class="field">
          <label for={`token-gm-notes-${props.token.id}`}>GM notes</label>
          <textarea
            id={`token-gm-notes-${props.token.id}`}
            rows={3}
            maxLength={20_000}
            value={notes() ?? savedNotes()}
            onInput={(event) => setNotes(event.currentTarget.value)}
          />
          <p class="hint">Only GMs see these; players never receive them.</p>
        </div>
        <button type="submit" class="button-small" disabled={notes() === null || notes()?.trim() === savedNotes()}>
          Save notes
        </button>
      </form>
      <Show when={props.players.length > 0}>
        <fieldset class="owners">
          <legend>Players who may move it</legend>
          <For each={props.players}>
            {(player) => {
              const owners = () => props.token.owner_user_ids ?? [];
              return (
                <label class="toggle">
                  <input
                    type="checkbox"
                    checked={owners().includes(player.user_id)}
                    onChange={(event) => {
                      const rest = owners().filter((id) => id !== player.user_id);
                      void patching.run({ owner_user_ids: event.currentTarget.checked ? [...rest, player.user_id] : rest });
                    }}
                  />{" "}
                  {player.username}
                </label>
              );
            }}
          </For>
        </fieldset>
      </Show>
      <Show when={props.art}>
        {(art) => (
          <div class="art-editor">
            <Show
              when={cropping() && props.onCrop}
              fallback={
                <div class="art-preview-row">
                  <span class="art-preview" style={{ width: `${ART_PREVIEW_PX}px`, height: `${ART_PREVIEW_PX}px` }}>
                    <CroppedArt
                      src={assetFileUrl(props.sessionId, art().image_asset)}
                      crop={art().crop}
                      width={ART_PREVIEW_PX}
                      height={ART_PREVIEW_PX}
                    />
                  </span>
                  <Show when={props.onCrop}>
                    <button type="button" class="button-small" onClick={() => setCropping(true)}>
                      Crop art
                    </button>
                  </Show>
                </div>
              }
            >
              {(save) => (
                <CropTool
                  src={assetFileUrl(props.sessionId, art().image_asset)}
                  initial={art().crop}
                  label={`Crop the art of ${props.token.name}`}
                  onSave={async (crop) => {
                    await save()(crop);
                    setCropping(false);
                  }}
                  onCancel={() => setCropping(false)}
                />
              )}
            </Show>
          </div>
        )}
      </Show>
      <AssetUploadField
        sessionId={props.sessionId}
        kind="token"
        inputId={`token-art-${props.token.id}`}
        label={props.art ? "Replace token art" : "Token art"}
        onUploaded={async (asset) => {
          await props.onArt(asset.hash, uploadedCrop(asset));
          setCropping(true);
        }}
      />
      <button type="button" class="button-danger" disabled={archiving.pending()} onClick={() => void archiving.run()}>
        Archive token
      </button>
      <ErrorMessage message={patching.error() ?? archiving.error()} />
    </section>
  );
}
