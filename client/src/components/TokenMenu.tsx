import { createSignal, type JSX, onCleanup, onMount } from "solid-js";
import type { Token } from "../lib/types";

/**
 * A token's own menu, opened by a right-click or a long press on it: the items the table and the
 * game modules give (conditions, hide or show, archive). A `role="menu"` positioned at the press;
 * arrow keys move between items, Escape or a press elsewhere closes it, and focus goes back to
 * the token.
 */
export function TokenMenu(props: { token: Token; x: number; y: number; onClose: () => void; children: JSX.Element }) {
  let menu: HTMLDivElement | undefined;
  const [placed, setPlaced] = createSignal({ left: props.x, top: props.y });

  const items = () => [...(menu?.querySelectorAll<HTMLElement>("[role^='menuitem']:not([disabled])") ?? [])];

  function close() {
    props.onClose();
    const token = [...document.querySelectorAll<HTMLButtonElement>("button.token")].find((b) => b.dataset.tokenId === props.token.id);
    token?.focus({ preventScroll: true });
  }

  onMount(() => {
    // Kept inside the table's viewport.
    const parent = menu?.offsetParent?.getBoundingClientRect();
    const own = menu?.getBoundingClientRect();
    if (parent && own && parent.width > 0) {
      setPlaced({
        left: Math.max(4, Math.min(props.x, parent.width - own.width - 4)),
        top: Math.max(4, Math.min(props.y, parent.height - own.height - 4)),
      });
    }
    items()[0]?.focus({ preventScroll: true });
    const onPointerDown = (event: PointerEvent) => {
      if (menu && event.target instanceof Node && !menu.contains(event.target)) props.onClose();
    };
    document.addEventListener("pointerdown", onPointerDown, true);
    onCleanup(() => document.removeEventListener("pointerdown", onPointerDown, true));
  });

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp" && event.key !== "Home" && event.key !== "End") return;
    event.preventDefault();
    event.stopPropagation();
    const list = items();
    if (list.length === 0) return;
    const index = list.indexOf(document.activeElement as HTMLElement);
    const next =
      event.key === "Home"
        ? 0
        : event.key === "End"
          ? list.length - 1
          : (index + (event.key === "ArrowDown" ? 1 : -1) + list.length) % list.length;
    list[next]?.focus();
  }

  return (
    <div
      ref={menu}
      class="token-menu"
      role="menu"
      aria-label={`${props.token.name} menu`}
      style={{ left: `${placed().left}px`, top: `${placed().top}px` }}
      onKeyDown={onKeyDown}
      onContextMenu={(event) => event.preventDefault()}
    >
      <p class="token-menu-title">{props.token.name}</p>
      {props.children}
    </div>
  );
}
