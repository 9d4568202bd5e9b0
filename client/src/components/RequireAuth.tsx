import { Navigate, useLocation } from "@solidjs/router";
import { Match, type ParentProps, Switch } from "solid-js";
import { user } from "../lib/auth";
import { paths } from "../lib/paths";

/** Renders its routes for a signed-in user; sends anyone else to sign in, and back here after. */
export function RequireAuth(props: ParentProps) {
  const location = useLocation();
  return (
    <Switch>
      <Match when={user() === undefined}>
        <p class="status" role="status">
          Loading…
        </p>
      </Match>
      <Match when={user() === null}>
        <Navigate href={() => paths.login(location.pathname + location.search)} />
      </Match>
      <Match when={user()}>{props.children}</Match>
    </Switch>
  );
}
