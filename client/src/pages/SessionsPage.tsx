import { A } from "@solidjs/router";
import { createResource, createSignal, Match, Show, Switch } from "solid-js";
import { CreateSessionForm } from "../components/CreateSessionForm";
import { ErrorMessage } from "../components/ErrorMessage";
import { InviteLink } from "../components/InviteLink";
import { SessionList } from "../components/SessionList";
import { api, describeError } from "../lib/api";
import { paths } from "../lib/paths";
import type { CreatedSession } from "../lib/types";

/** "My sessions": the tables the user belongs to, and a form to open a new one as its GM. */
export function SessionsPage() {
  const [sessions, { refetch }] = createResource(async () => (await api.listSessions()).sessions);
  const [created, setCreated] = createSignal<CreatedSession | null>(null);

  function handleCreated(result: CreatedSession) {
    setCreated(result);
    void refetch();
  }

  return (
    <div class="page">
      <h1>My sessions</h1>
      <div class="columns">
        <section class="card" aria-labelledby="sessions-heading">
          <h2 id="sessions-heading">Your tables</h2>
          <Switch>
            <Match when={sessions.error}>
              <ErrorMessage message={describeError(sessions.error)} />
              <button type="button" onClick={() => void refetch()}>
                Try again
              </button>
            </Match>
            <Match when={sessions.latest}>{(list) => <SessionList sessions={list()} />}</Match>
            <Match when={sessions.loading}>
              <p class="status" role="status">
                Loading sessions…
              </p>
            </Match>
          </Switch>
        </section>
        <div class="stack">
          <CreateSessionForm onCreated={handleCreated} />
          <Show when={created()}>
            {(result) => (
              <div class="card">
                <InviteLink inviteCode={result().invite_code} sessionName={result().session.name} />
                <A class="button" href={paths.session(result().session.id)}>
                  Open {result().session.name}
                </A>
              </div>
            )}
          </Show>
        </div>
      </div>
    </div>
  );
}
