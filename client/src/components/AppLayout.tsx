import { A, type RouteSectionProps, useNavigate } from "@solidjs/router";
import Hexagon from "lucide-solid/icons/hexagon";
import { Show } from "solid-js";
import { logout, user } from "../lib/auth";
import { paths } from "../lib/paths";
import { createSubmitter } from "../lib/submit";

/** The frame around every page: the app name, who is signed in, and the page itself. */
export function AppLayout(props: RouteSectionProps) {
  const navigate = useNavigate();
  const signOut = createSubmitter(logout);

  async function handleSignOut() {
    await signOut.run();
    navigate(paths.login(), { replace: true });
  }

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="app-header">
        <A href={paths.home} class="brand" end>
          <Hexagon aria-hidden="true" class="brand-mark" /> Tabletop
        </A>
        <Show when={user()}>
          {(current) => (
            <div class="account">
              <span class="account-name">
                Signed in as <strong data-testid="current-user">{current().username}</strong>
              </span>
              <A href={paths.tokens} class="button-quiet">
                API tokens
              </A>
              <button type="button" class="button-quiet" onClick={handleSignOut} disabled={signOut.pending()}>
                Sign out
              </button>
            </div>
          )}
        </Show>
      </header>
      <main id="main" class="app-main">
        {props.children}
      </main>
    </>
  );
}
