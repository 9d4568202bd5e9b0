import { createSignal, createUniqueId, type JSX, Show } from "solid-js";
import { inviteLink } from "../lib/paths";

/** The invite link of a session, ready to copy and send to players; `children` adds actions (a new link). */
export function InviteLink(props: { inviteCode: string; sessionName: string; children?: JSX.Element }) {
  const [copied, setCopied] = createSignal<"yes" | "failed" | null>(null);
  const link = () => inviteLink(props.inviteCode);
  const id = createUniqueId();
  let input: HTMLInputElement | undefined;

  async function copy() {
    try {
      await navigator.clipboard.writeText(link());
      setCopied("yes");
    } catch {
      // Clipboard access needs permission or a secure context; selecting the text lets the user copy it.
      input?.select();
      setCopied("failed");
    }
  }

  return (
    <section class="invite" aria-labelledby={`${id}-heading`}>
      <h3 id={`${id}-heading`}>Invite players to {props.sessionName}</h3>
      <div class="field-row">
        <label class="visually-hidden" for={`${id}-link`}>
          Invite link
        </label>
        <input
          id={`${id}-link`}
          ref={input}
          type="url"
          readOnly
          value={link()}
          data-testid="invite-link"
          onFocus={(event) => event.currentTarget.select()}
        />
        <button type="button" onClick={copy}>
          Copy link
        </button>
      </div>
      <p class="hint" role="status">
        <Show when={copied()} fallback="Anyone with this link can join as a player.">
          {(state) => (state() === "yes" ? "Copied to the clipboard." : "Select the link and copy it by hand.")}
        </Show>
      </p>
      {props.children}
    </section>
  );
}
