import { A, useNavigate, useParams } from "@solidjs/router";
import { createEffect, createSignal, on, Show } from "solid-js";
import { ErrorMessage } from "../components/ErrorMessage";
import { api, describeError } from "../lib/api";
import { paths } from "../lib/paths";

/** `/join/:code`: joins the session of an invite code as a player, then opens its table. */
export function JoinPage() {
  const params = useParams<{ code: string }>();
  const navigate = useNavigate();
  const [error, setError] = createSignal<string | null>(null);

  createEffect(
    on(
      () => params.code,
      async (code) => {
        setError(null);
        try {
          const joined = await api.joinSession(code);
          navigate(paths.session(joined.session.id), { replace: true });
        } catch (cause) {
          setError(describeError(cause));
        }
      },
    ),
  );

  return (
    <div class="page narrow">
      <h1>Joining session</h1>
      <Show
        when={error()}
        fallback={
          <p class="status" role="status">
            Checking your invite…
          </p>
        }
      >
        <ErrorMessage message={error()} />
        <p>
          <A href={paths.home}>Back to my sessions</A>
        </p>
      </Show>
    </div>
  );
}
