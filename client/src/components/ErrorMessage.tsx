import { Show } from "solid-js";

/** A failure message announced to screen readers; renders nothing without a message. */
export function ErrorMessage(props: { message: string | null | undefined }) {
  return (
    <Show when={props.message}>
      {(message) => (
        <p class="error" role="alert">
          {message()}
        </p>
      )}
    </Show>
  );
}
