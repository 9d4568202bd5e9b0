import { createSignal, For } from "solid-js";
import type { Scene } from "../lib/api";
import { createSubmitter } from "../lib/submit";
import { ErrorMessage } from "./ErrorMessage";

const LIBRARY = "";

/** A new token on a scene (or in the library), queued through the sync layer. GM only. */
export function NewTokenForm(props: {
  scenes: Scene[];
  defaultSceneId: string | null;
  onCreate: (name: string, sceneId: string | null) => Promise<unknown>;
}) {
  const [name, setName] = createSignal("");
  const [sceneId, setSceneId] = createSignal<string | undefined>(undefined);
  const chosenSceneId = () => sceneId() ?? props.defaultSceneId ?? LIBRARY;
  const submitter = createSubmitter((tokenName: string, scene: string) => props.onCreate(tokenName, scene === LIBRARY ? null : scene));

  async function handleSubmit(event: SubmitEvent) {
    event.preventDefault();
    const tokenName = name().trim();
    if (tokenName === "") return;
    setName("");
    await submitter.run(tokenName, chosenSceneId());
  }

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
        <button type="submit" disabled={name().trim() === ""}>
          Add token
        </button>
        <ErrorMessage message={submitter.error()} />
      </form>
    </section>
  );
}
