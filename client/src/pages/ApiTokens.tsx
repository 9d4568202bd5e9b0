import { createResource, createSignal, For, Match, Show, Switch } from "solid-js";
import { ErrorMessage } from "../components/ErrorMessage";
import { createTokensApi, describeError, type TokensApi } from "../lib/api";
import { createSubmitter } from "../lib/submit";
import type { ApiTokenCreated, ApiTokenInfo } from "../lib/types";

/** Lifetimes offered for a new token; "" is no expiry. */
const LIFETIMES = [
  { value: "", label: "Never" },
  { value: "7", label: "In 7 days" },
  { value: "30", label: "In 30 days" },
  { value: "90", label: "In 90 days" },
  { value: "365", label: "In a year" },
] as const;

function when(iso: string | null, never: string): string {
  return iso === null ? never : new Date(iso).toLocaleString();
}

/** The secret of a token just made: shown this once, with a copy button. */
function NewTokenSecret(props: { created: ApiTokenCreated; onDone: () => void }) {
  const [copied, setCopied] = createSignal<"yes" | "failed" | null>(null);
  let input: HTMLInputElement | undefined;

  async function copy() {
    try {
      await navigator.clipboard.writeText(props.created.token);
      setCopied("yes");
    } catch {
      // Clipboard access needs permission or a secure context; selecting the text lets the user copy it.
      input?.select();
      setCopied("failed");
    }
  }

  return (
    <section class="card" aria-labelledby="new-token-heading">
      <h2 id="new-token-heading">Token “{props.created.name}” created</h2>
      <p>
        Copy it now: it is shown only this once. Scripts send it as <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <div class="field-row">
        <label class="visually-hidden" for="new-token-secret">
          New token secret
        </label>
        <input
          id="new-token-secret"
          ref={input}
          readOnly
          value={props.created.token}
          data-testid="new-token-secret"
          onFocus={(event) => event.currentTarget.select()}
        />
        <button type="button" onClick={copy}>
          Copy token
        </button>
      </div>
      <p class="hint" role="status">
        <Show when={copied()}>{(state) => (state() === "yes" ? "Copied to the clipboard." : "Select the token and copy it by hand.")}</Show>
      </p>
      <button type="button" class="button-quiet" onClick={() => props.onDone()}>
        Done
      </button>
    </section>
  );
}

/**
 * "API tokens": tokens let scripts and the CLI act as this account. Create one (name, optional
 * expiry) and copy its secret, see when each was last used, revoke the ones no longer needed.
 */
export function ApiTokensPage(props: { api?: TokensApi }) {
  const tokensApi = props.api ?? createTokensApi();
  const [tokens, { refetch }] = createResource(async () => (await tokensApi.list()).tokens);
  const [name, setName] = createSignal("");
  const [lifetime, setLifetime] = createSignal("");
  const [created, setCreated] = createSignal<ApiTokenCreated | null>(null);
  const creating = createSubmitter(tokensApi.create);
  const revoking = createSubmitter(tokensApi.revoke, { serial: true });

  async function handleCreate(event: SubmitEvent) {
    event.preventDefault();
    const days = lifetime();
    const result = await creating.run({ name: name().trim(), ...(days === "" ? {} : { expires_in_days: Number(days) }) });
    if (result === undefined) return;
    setName("");
    setLifetime("");
    setCreated(result);
    void refetch();
  }

  async function handleRevoke(token: ApiTokenInfo) {
    await revoking.run(token.id);
    if (revoking.error() === null && created()?.id === token.id) setCreated(null);
    void refetch();
  }

  const expired = (token: ApiTokenInfo) => token.expires_at !== null && Date.parse(token.expires_at) <= Date.now();

  return (
    <div class="page">
      <h1>API tokens</h1>
      <p>
        A token lets a script or the command-line tool act as you. Revoke a token you no longer use; changing your password revokes them
        all.
      </p>
      <div class="columns">
        <form class="card form" onSubmit={handleCreate}>
          <h2>New token</h2>
          <div class="field">
            <label for="token-name">Token name</label>
            <input
              id="token-name"
              name="name"
              required
              maxLength={100}
              placeholder="laptop CLI"
              value={name()}
              onInput={(event) => setName(event.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="token-expiry">Expires</label>
            <select id="token-expiry" name="expires" value={lifetime()} onChange={(event) => setLifetime(event.currentTarget.value)}>
              <For each={LIFETIMES}>{(option) => <option value={option.value}>{option.label}</option>}</For>
            </select>
          </div>
          <ErrorMessage message={creating.error()} />
          <button type="submit" disabled={creating.pending() || name().trim() === ""}>
            Create token
          </button>
        </form>
        <Show when={created()}>{(current) => <NewTokenSecret created={current()} onDone={() => setCreated(null)} />}</Show>
      </div>
      <section class="card" aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">Your tokens</h2>
        <ErrorMessage message={revoking.error()} />
        <Switch>
          <Match when={tokens.error}>
            <ErrorMessage message={describeError(tokens.error)} />
            <button type="button" onClick={() => void refetch()}>
              Try again
            </button>
          </Match>
          <Match when={tokens.latest?.length === 0}>
            <p class="hint">No tokens yet.</p>
          </Match>
          <Match when={tokens.latest}>
            {(list) => (
              <ul class="list" aria-label="API tokens">
                <For each={list()}>
                  {(token) => (
                    <li class="list-item" data-token-id={token.id}>
                      <span class="item-name">{token.name}</span>
                      <span class="hint">
                        Created {when(token.created_at, "")} · Last used {when(token.last_used_at, "never")} ·{" "}
                        {expired(token) ? "Expired" : `Expires ${when(token.expires_at, "never")}`}
                      </span>
                      <button
                        type="button"
                        class="button-quiet"
                        aria-label={`Revoke ${token.name}`}
                        disabled={revoking.pending()}
                        onClick={() => void handleRevoke(token)}
                      >
                        Revoke
                      </button>
                    </li>
                  )}
                </For>
              </ul>
            )}
          </Match>
          <Match when={tokens.loading}>
            <p class="status" role="status">
              Loading tokens…
            </p>
          </Match>
        </Switch>
      </section>
    </div>
  );
}
