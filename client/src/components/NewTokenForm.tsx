import { createEffect, createSignal, For, on, Show } from "solid-js";
import type { Crop } from "../lib/crop";
import { createSubmitter } from "../lib/submit";
import type { Folder, Scene } from "../lib/types";
import { assetFileUrl, type UploadedAsset } from "../lib/upload";
import { AssetUploadField } from "./AssetUploadField";
import { CropTool } from "./CropTool";
import { ErrorMessage } from "./ErrorMessage";

const LIBRARY = "";
const NO_FOLDER = "";

export interface NewTokenInput {
  name: string;
  sceneId: string | null;
  folderId: string | null;
  art: { hash: string; crop: Crop } | null;
}

/**
 * A new token on a scene or in the library (in one of its folders), optionally with art: the
 * image is uploaded at once (with progress), then framed with the crop tool; the token and its
 * art are queued together when the GM adds the token. GM only.
 */
export function NewTokenForm(props: {
  sessionId: string;
  scenes: Scene[];
  defaultSceneId: string | null;
  /** The token folders, depth first (`flattenFolders`). */
  folders: { folder: Folder; depth: number }[];
  onCreate: (input: NewTokenInput) => Promise<unknown>;
}) {
  const [name, setName] = createSignal("");
  const [sceneId, setSceneId] = createSignal<string | undefined>(undefined);
  const [folderId, setFolderId] = createSignal(NO_FOLDER);
  const [asset, setAsset] = createSignal<UploadedAsset | null>(null);
  const [crop, setCrop] = createSignal<Crop | null>(null);
  const chosenSceneId = () => sceneId() ?? props.defaultSceneId ?? LIBRARY;
  // Another scene on the table: new tokens go there again, unless the GM picks otherwise.
  createEffect(
    on(
      () => props.defaultSceneId,
      () => setSceneId(undefined),
      { defer: true },
    ),
  );
  const submitter = createSubmitter((input: NewTokenInput) => props.onCreate(input));

  async function handleSubmit(event: SubmitEvent) {
    event.preventDefault();
    const tokenName = name().trim();
    if (tokenName === "") return;
    const uploaded = asset();
    const framing = crop();
    const scene = chosenSceneId();
    const input: NewTokenInput = {
      name: tokenName,
      sceneId: scene === LIBRARY ? null : scene,
      folderId: scene === LIBRARY && folderId() !== NO_FOLDER ? folderId() : null,
      art: uploaded && framing ? { hash: uploaded.hash, crop: framing } : null,
    };
    setName("");
    setAsset(null);
    setCrop(null);
    // The next token goes to the scene on the table again: a target picked once is not silently reused.
    setSceneId(undefined);
    setFolderId(NO_FOLDER);
    await submitter.run(input);
  }

  const targetName = () => {
    const id = chosenSceneId();
    return id === LIBRARY ? "the library" : (props.scenes.find((s) => s.id === id)?.name ?? "a scene");
  };

  return (
    <section class="card sidebar-card" aria-labelledby="new-token-heading">
      <h2 id="new-token-heading">New token</h2>
      <form class="form" onSubmit={handleSubmit}>
        <div class="field">
          <label for="token-name">Token name</label>
          <input
            id="token-name"
            name="name"
            required
            maxLength={200}
            placeholder="Goblin archer"
            value={name()}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="token-scene">Place on</label>
          <select id="token-scene" value={chosenSceneId()} onChange={(event) => setSceneId(event.currentTarget.value)}>
            <option value={LIBRARY}>Library (no scene)</option>
            <For each={props.scenes}>{(scene) => <option value={scene.id}>{scene.name}</option>}</For>
          </select>
        </div>
        <Show when={chosenSceneId() === LIBRARY && props.folders.length > 0}>
          <div class="field">
            <label for="token-folder">Library folder</label>
            <select id="token-folder" value={folderId()} onChange={(event) => setFolderId(event.currentTarget.value)}>
              <option value={NO_FOLDER}>No folder</option>
              <For each={props.folders}>
                {(entry) => <option value={entry.folder.id}>{`${"\u00a0\u00a0".repeat(entry.depth)}${entry.folder.name}`}</option>}
              </For>
            </select>
          </div>
        </Show>
        <Show
          when={asset()}
          fallback={
            <AssetUploadField
              sessionId={props.sessionId}
              kind="token"
              inputId="new-token-art"
              label="Art for the new token"
              onUploaded={(uploaded) => {
                setCrop(null);
                setAsset(uploaded);
              }}
            />
          }
        >
          {(uploaded) => (
            <div class="field">
              <CropTool
                src={assetFileUrl(props.sessionId, uploaded().hash)}
                initial={null}
                label="Crop the new token's art"
                onChange={setCrop}
              />
              <div class="button-row">
                <button
                  type="button"
                  class="button-small button-quiet"
                  onClick={() => {
                    setAsset(null);
                    setCrop(null);
                  }}
                >
                  Remove art
                </button>
              </div>
            </div>
          )}
        </Show>
        <button type="submit" disabled={name().trim() === "" || (asset() !== null && crop() === null)}>
          Add token
        </button>
        <p class="hint" data-testid="new-token-target">
          Adds it to {targetName()}.
        </p>
        <ErrorMessage message={submitter.error()} />
      </form>
    </section>
  );
}
