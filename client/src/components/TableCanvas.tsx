import { createMemo, createSignal, For, type JSX, Show } from "solid-js";
import type { Scene, Token, TokenArt } from "../lib/api";
import { assetFileUrl } from "../lib/upload";
import { CELL_PX, cells, TokenPiece } from "./TokenPiece";

export interface Ghost {
  x: number;
  y: number;
  rotation: number;
}

const DEFAULT_WIDTH = 1600;
const DEFAULT_HEIGHT = 1024;

/**
 * The active scene as a table: the map image, a grid overlay, the tokens on top.
 *
 * Absolutely positioned DOM rather than `<canvas>` or SVG: every token is a real button (focus,
 * keyboard, screen readers and `getByRole` come free), images are plain `<img>` that the browser
 * caches and lazily decodes, and pointer capture makes dragging simple. The grid is one SVG
 * pattern (cheap at any size). A few hundred tokens are well within what the DOM handles.
 */
export function TableCanvas(props: {
  sessionId: string;
  scene: Scene;
  tokens: Token[];
  art: Record<string, TokenArt>;
  gridOpacity: number;
  canMove: (token: Token) => boolean;
  selectedId: string | null;
  pending: Record<string, number>;
  ghosts: Record<string, Ghost>;
  onSelect: (id: string | null) => void;
  onPreview: (token: Token, x: number, y: number) => void;
  onDrop: (token: Token, x: number, y: number) => void;
  /** Drawn over the tokens in scene pixels (game modules: fog, token badges). */
  children?: JSX.Element;
}) {
  const [mapSize, setMapSize] = createSignal<{ w: number; h: number } | null>(null);
  const size = createMemo(() => {
    const base = mapSize() ?? { w: DEFAULT_WIDTH, h: DEFAULT_HEIGHT };
    let w = base.w;
    let h = base.h;
    for (const t of props.tokens) {
      w = Math.max(w, (t.x ?? 0) + cells(t.width) * CELL_PX + CELL_PX);
      h = Math.max(h, (t.y ?? 0) + cells(t.height) * CELL_PX + CELL_PX);
    }
    return { w, h };
  });
  const ghostsShown = createMemo(() =>
    props.tokens.flatMap((token) => {
      const ghost = props.ghosts[token.id];
      return ghost ? [{ token, ghost }] : [];
    }),
  );

  return (
    <section class="table-viewport" aria-label={`Table: ${props.scene.name}`}>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: a click on empty table clears the selection; tokens are the buttons */}
      {/* biome-ignore lint/a11y/useKeyWithClickEvents: Escape on a token does the same from the keyboard */}
      <div
        class="table-surface"
        style={{ width: `${size().w}px`, height: `${size().h}px`, "--accent": props.scene.accent_color ?? "var(--felt-light)" }}
        data-scene-id={props.scene.id}
        onClick={(event) => {
          if (event.target === event.currentTarget) props.onSelect(null);
        }}
      >
        <Show when={props.scene.map_asset}>
          {(hash) => (
            <img
              class="table-map"
              src={assetFileUrl(props.sessionId, hash())}
              alt={`Map of ${props.scene.name}`}
              draggable={false}
              onLoad={(event) => setMapSize({ w: event.currentTarget.naturalWidth, h: event.currentTarget.naturalHeight })}
            />
          )}
        </Show>
        <svg class="table-grid" width={size().w} height={size().h} aria-hidden="true" style={{ opacity: String(props.gridOpacity) }}>
          <defs>
            <pattern id={`grid-${props.scene.id}`} width={CELL_PX} height={CELL_PX} patternUnits="userSpaceOnUse">
              <path d={`M ${CELL_PX} 0 L 0 0 0 ${CELL_PX}`} fill="none" stroke="currentColor" stroke-width="1" />
            </pattern>
          </defs>
          <rect width="100%" height="100%" fill={`url(#grid-${props.scene.id})`} />
        </svg>
        <For each={ghostsShown()}>
          {(entry) => (
            <div
              class="token-ghost"
              aria-hidden="true"
              data-ghost-for={entry.token.id}
              style={{
                left: `${entry.ghost.x}px`,
                top: `${entry.ghost.y}px`,
                width: `${cells(entry.token.width) * CELL_PX}px`,
                height: `${cells(entry.token.height) * CELL_PX}px`,
                transform: `rotate(${entry.ghost.rotation}deg)`,
              }}
            />
          )}
        </For>
        <For each={props.tokens}>
          {(token) => (
            <TokenPiece
              sessionId={props.sessionId}
              token={token}
              art={props.art[token.id]}
              movable={props.canMove(token)}
              selected={props.selectedId === token.id}
              unsaved={(props.pending[`token:${token.id}`] ?? 0) > 0}
              onSelect={() => props.onSelect(token.id)}
              onDeselect={() => props.onSelect(null)}
              onPreview={(x, y) => props.onPreview(token, x, y)}
              onDrop={(x, y) => props.onDrop(token, x, y)}
            />
          )}
        </For>
        {props.children}
      </div>
    </section>
  );
}
