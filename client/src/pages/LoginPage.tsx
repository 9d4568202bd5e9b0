import { Navigate, useSearchParams } from "@solidjs/router";
import { createSignal, Match, Show, Switch } from "solid-js";
import { ErrorMessage } from "../components/ErrorMessage";
import { login, register, user } from "../lib/auth";
import { safeNext } from "../lib/paths";
import { createSubmitter } from "../lib/submit";

type Mode = "login" | "register";

/**
 * Sign in or create an account (one form, two modes). Once a user is signed in, this page sends
 * them where `?next=` says (the page that asked for a sign-in, e.g. an invite link).
 */
export function LoginPage() {
  const [params] = useSearchParams<{ next?: string }>();
  const [mode, setMode] = createSignal<Mode>("login");
  const [username, setUsername] = createSignal("");
  const [password, setPassword] = createSignal("");
  const next = () => safeNext(typeof params.next === "string" ? params.next : undefined);
  const submitter = createSubmitter((m: Mode, name: string, secret: string) =>
    m === "login" ? login(name, secret) : register(name, secret),
  );
  const isRegister = () => mode() === "register";

  function toggleMode() {
    setMode(isRegister() ? "login" : "register");
    submitter.clearError();
  }

  async function handleSubmit(event: SubmitEvent) {
    event.preventDefault();
    await submitter.run(mode(), username().trim(), password());
  }

  return (
    <Switch>
      <Match when={user() === undefined}>
        <p class="status" role="status">
          Loading…
        </p>
      </Match>
      <Match when={user()}>
        <Navigate href={next()} />
      </Match>
      <Match when={user() === null}>
        <section class="auth">
          <form class="card form" onSubmit={handleSubmit} aria-labelledby="auth-heading">
            <h1 id="auth-heading">{isRegister() ? "Create an account" : "Sign in"}</h1>
            <div class="field">
              <label for="username">Username</label>
              <input
                id="username"
                name="username"
                autocomplete="username"
                autocapitalize="none"
                spellcheck={false}
                required
                minLength={isRegister() ? 3 : 1}
                maxLength={isRegister() ? 32 : 64}
                pattern={isRegister() ? "[a-z0-9_\\-]{3,32}" : undefined}
                aria-describedby={isRegister() ? "username-hint" : undefined}
                value={username()}
                onInput={(event) => setUsername(event.currentTarget.value)}
              />
              <Show when={isRegister()}>
                <p id="username-hint" class="hint">
                  3 to 32 characters: lowercase letters, digits, _ and -.
                </p>
              </Show>
            </div>
            <div class="field">
              <label for="password">Password</label>
              <input
                id="password"
                name="password"
                type="password"
                autocomplete={isRegister() ? "new-password" : "current-password"}
                required
                minLength={isRegister() ? 10 : 1}
                aria-describedby={isRegister() ? "password-hint" : undefined}
                value={password()}
                onInput={(event) => setPassword(event.currentTarget.value)}
              />
              <Show when={isRegister()}>
                <p id="password-hint" class="hint">
                  At least 10 characters.
                </p>
              </Show>
            </div>
            <ErrorMessage message={submitter.error()} />
            <button type="submit" disabled={submitter.pending()}>
              {isRegister() ? "Create account" : "Sign in"}
            </button>
            <p class="switch-mode">
              {isRegister() ? "Already have an account?" : "New here?"}{" "}
              <button type="button" class="button-link" onClick={toggleMode}>
                {isRegister() ? "Sign in instead" : "Create an account instead"}
              </button>
            </p>
          </form>
        </section>
      </Match>
    </Switch>
  );
}
