import { createSignal, For } from "solid-js";
import { api, type Scene, type Token } from "../lib/api";
import { createSubmitter } from "../lib/submit";
import { ErrorMessage } from "./ErrorMessage";

const LIBRARY = "";

/** `POST {S}/tokens`: a token on a scene, or in the library when no scene is chosen. GM only. */
export function CreateTokenForm(props: {
  sessionId: string;
  scenes: Scene[];
  defaultSceneId: string | null;
  onCreated: (token: Token) => void;
}) {
  const [name, setName] = createSignal("");
  const [sceneId, setSceneId] = createSignal<string | undefined>(undefined);
  const chosenSceneId = () => sceneId() ?? props.defaultSceneId ?? LIBRARY;
  const submitter = createSubmitter((tokenName: string, scene: string) =>
    api.createToken(props.sessionId, { name: tokenName, scene_id: scene === LIBRARY ? null : scene }),
  );

  async function handleSubmit(event: SubmitEvent) {
    event.preventDefault();
    const token = await submitter.run(name().trim(), chosenSceneId());
    if (token === undefined) return;
    setName("");
    props.onCreated(token);
  }

  return (
    <form class="form inline-form" onSubmit={handleSubmit}>
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
      <button type="submit" disabled={submitter.pending() || name().trim() === ""}>
        Add token
      </button>
      <ErrorMessage message={submitter.error()} />
    </form>
  );
}
