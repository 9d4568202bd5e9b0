import UserPlus from "lucide-solid/icons/user-plus";
import { createSignal, createUniqueId, onCleanup, onMount, Show } from "solid-js";
import { api, describeError } from "../lib/api";
import { InviteLink } from "./InviteLink";
import "./invite-button.css";

/** The calls the button makes: the session read (which gives GMs the invite code) and the rotation. */
export interface InviteApi {
  getSession(sid: string): Promise<{ invite_code?: string | undefined }>;
  rotateInvite(sid: string): Promise<{ invite_code: string }>;
}

/**
 * The GM's "Invite" button for the table header: opens the session's invite link (read fresh from
 * `GET {S}`) ready to copy, and "New link", which after a confirmation replaces the code so the
 * old link stops working (`POST {S}/invite`).
 */
export function InviteButton(props: { sessionId: string; sessionName: string; api?: InviteApi }) {
  const calls = () => props.api ?? api;
  const [open, setOpen] = createSignal(false);
  const [code, setCode] = createSignal<string | null>(null);
  const [error, setError] = createSignal<string | null>(null);
  const [confirming, setConfirming] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const [rotated, setRotated] = createSignal(false);
  const id = createUniqueId();
  let root: HTMLDivElement | undefined;

  async function load() {
    setError(null);
    try {
      const detail = await calls().getSession(props.sessionId);
      if (detail.invite_code) setCode(detail.invite_code);
      else setError("Only a GM can see the invite link.");
    } catch (cause) {
      setError(describeError(cause));
    }
  }

  function toggle() {
    const next = !open();
    setOpen(next);
    setConfirming(false);
    setRotated(false);
    if (next) void load();
  }

  async function rotate() {
    setBusy(true);
    setError(null);
    try {
      const { invite_code } = await calls().rotateInvite(props.sessionId);
      setCode(invite_code);
      setRotated(true);
    } catch (cause) {
      setError(describeError(cause));
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  }

  onMount(() => {
    // Escape or a click elsewhere closes it.
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape" && open()) setOpen(false);
    };
    const onPointer = (event: PointerEvent) => {
      if (open() && root && event.target instanceof Node && !root.contains(event.target)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", onPointer);
    onCleanup(() => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", onPointer);
    });
  });

  return (
    <div class="invite-button" ref={root}>
      <button
        type="button"
        class="button-quiet icon-text"
        aria-label="Invite"
        title="Invite players"
        aria-expanded={open()}
        aria-controls={`${id}-popover`}
        onClick={toggle}
      >
        <UserPlus aria-hidden="true" />
        <span class="header-label">Invite</span>
      </button>
      <Show when={open()}>
        <div class="invite-popover" id={`${id}-popover`} role="dialog" aria-label="Invite players">
          <Show
            when={code()}
            fallback={
              <Show when={!error()}>
                <p class="hint">Loading the invite link…</p>
              </Show>
            }
          >
            {(current) => (
              <InviteLink inviteCode={current()} sessionName={props.sessionName}>
                <Show
                  when={confirming()}
                  fallback={
                    <p class="invite-rotate">
                      <Show when={rotated()}>
                        <span role="status">A new link is ready; the old one no longer works. </span>
                      </Show>
                      <button type="button" class="button-small button-quiet" disabled={busy()} onClick={() => setConfirming(true)}>
                        New link
                      </button>
                    </p>
                  }
                >
                  <p class="confirm invite-rotate">
                    Replace the link? Anyone holding the old one can no longer join with it (members stay members).{" "}
                    <button type="button" class="button-small" disabled={busy()} onClick={() => void rotate()}>
                      Replace link
                    </button>{" "}
                    <button type="button" class="button-small button-quiet" disabled={busy()} onClick={() => setConfirming(false)}>
                      Keep
                    </button>
                  </p>
                </Show>
              </InviteLink>
            )}
          </Show>
          <Show when={error()}>
            {(message) => (
              <p class="error" role="alert">
                {message()}
              </p>
            )}
          </Show>
        </div>
      </Show>
    </div>
  );
}
