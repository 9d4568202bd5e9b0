import { createSignal } from "solid-js";
import { api, type Scene } from "../lib/api";
import { createSubmitter } from "../lib/submit";
import { ErrorMessage } from "./ErrorMessage";

/** `POST {S}/scenes` with a name; every other field takes the server's default. GM only. */
export function CreateSceneForm(props: { sessionId: string; onCreated: (scene: Scene) => void }) {
  const [name, setName] = createSignal("");
  const submitter = createSubmitter((sceneName: string) => api.createScene(props.sessionId, { name: sceneName }));

  async function handleSubmit(event: SubmitEvent) {
    event.preventDefault();
    const scene = await submitter.run(name().trim());
    if (scene === undefined) return;
    setName("");
    props.onCreated(scene);
  }

  return (
    <form class="form inline-form" onSubmit={handleSubmit}>
      <div class="field">
        <label for="scene-name">Scene name</label>
        <input
          id="scene-name"
          name="name"
          required
          maxLength={200}
          placeholder="The Sunken Crypt"
          value={name()}
          onInput={(event) => setName(event.currentTarget.value)}
        />
      </div>
      <button type="submit" disabled={submitter.pending() || name().trim() === ""}>
        Create scene
      </button>
      <ErrorMessage message={submitter.error()} />
    </form>
  );
}
