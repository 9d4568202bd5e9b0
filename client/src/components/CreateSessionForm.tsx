import { createSignal } from "solid-js";
import { api } from "../lib/api";
import { createSubmitter } from "../lib/submit";
import type { CreatedSession } from "../lib/types";
import { ErrorMessage } from "./ErrorMessage";

/** `POST /api/vtt/sessions`: the caller becomes the new session's GM. */
export function CreateSessionForm(props: { onCreated: (created: CreatedSession) => void }) {
  const [name, setName] = createSignal("");
  const submitter = createSubmitter(api.createSession);

  async function handleSubmit(event: SubmitEvent) {
    event.preventDefault();
    const created = await submitter.run(name().trim());
    if (created === undefined) return;
    setName("");
    props.onCreated(created);
  }

  return (
    <form class="card form" onSubmit={handleSubmit}>
      <h2>New session</h2>
      <div class="field">
        <label for="session-name">Session name</label>
        <input
          id="session-name"
          name="name"
          required
          maxLength={200}
          placeholder="Curse of the Amber Keep"
          value={name()}
          onInput={(event) => setName(event.currentTarget.value)}
        />
      </div>
      <ErrorMessage message={submitter.error()} />
      <button type="submit" disabled={submitter.pending() || name().trim() === ""}>
        Create session
      </button>
    </form>
  );
}
