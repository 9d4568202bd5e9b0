import { createMemo, createSignal, For, type JSX, Show } from "solid-js";
import type { Layer, Scene, Token, TokenArt } from "../lib/api";
import { hitStroke, type Note, orderedLayers, readNotes, readStrokes, type Stroke, simplifyPoints } from "../lib/drawing";
import { createSnapSetting, type GridPatch, gridOf, libraryDropPoint, tokenDropPoint } from "../lib/grid";
import { LIBRARY_DRAG_TYPE } from "../lib/library";
import { type Rect, rectFromCorners, toggleInSelection, tokensInBox } from "../lib/selection";
import { assetFileUrl } from "../lib/upload";
import { DrawingsLayer } from "./DrawingsLayer";
import { GridControls } from "./GridControls";
import { GridFitTool } from "./GridFitTool";
import { GridOverlay } from "./GridOverlay";
import { type DrawingStyle, type LayerTool, LayerToolbar } from "./LayerToolbar";
import { NotesLayer } from "./NotesLayer";
import { Ruler } from "./Ruler";
import { cells, TokenPiece } from "./TokenPiece";

export interface Ghost {
  x: number;
  y: number;
  rotation: number;
}

/** What the GM's layer tools do: each call is one queued edit (see `lib/drawing.ts`). */
export interface LayerEdits {
  addStroke(stroke: Stroke): void;
  eraseStrokes(ids: string[]): void;
  clearStrokes(): void;
  putNote(note: Note): void;
  deleteNote(id: string): void;
}

const DEFAULT_WIDTH = 1600;
const DEFAULT_HEIGHT = 1024;
/** A press on the empty table must travel this far to become a selection box (else it is a click). */
const BOX_THRESHOLD_PX = 4;

/**
 * The active scene as a table: the map image, a grid overlay, the scene's drawings layers, the
 * tokens, and (for GMs) the notes layers' pins on top.
 *
 * Absolutely positioned DOM rather than `<canvas>` or SVG: every token is a real button (focus,
 * keyboard, screen readers and `getByRole` come free), images are plain `<img>` that the browser
 * caches and lazily decodes, and pointer capture makes dragging simple. The grid is one SVG
 * pattern (cheap at any size), each drawings layer one SVG. A few hundred tokens are well within
 * what the DOM handles.
 *
 * Layers: `drawings` layers are drawn between the grid and the tokens, bottom to top by
 * `z_index` (then creation); `notes` layers are GM annotations, their pins always above the
 * tokens so they stay reachable. `map` and `fog` layers are not drawn here.
 *
 * Optional powers (the GM's): `onSelectMany` turns on shift-click and box selection, a selected
 * token dragged or moved by key moves the whole selection (`onMoveMany`); `onResize`/`onRotate`
 * give the single selected token its handles; `layerEdits` shows the tool bar (select, draw,
 * note, erase); `onLibraryDrop` accepts library tokens dragged onto the table, at the grid cell
 * under the pointer.
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
  /** The whole selection (overrides `selectedId` when given). */
  selectedIds?: readonly string[];
  onSelectMany?: (ids: string[]) => void;
  onMoveMany?: (moves: { token: Token; x: number; y: number }[]) => void;
  onResize?: (token: Token, width: number, height: number) => void;
  onRotate?: (token: Token, rotation: number) => void;
  /** The scene's layers (those of other scenes are ignored). */
  layers?: readonly Layer[];
  /** Draw the notes layers (GMs; players never receive them anyway). */
  showNotes?: boolean;
  layerEdits?: LayerEdits;
  onLibraryDrop?: (tokenId: string, x: number, y: number) => void;
  /** Saves a grid fitted with the grid-fit tool (GMs). */
  onFitGrid?: (patch: GridPatch) => void;
  newId?: () => string;
  now?: () => number;
  /** Drawn over the map and the tokens, in table pixels (game modules' overlays). */
  children?: JSX.Element;
  /** Floats over the table's top right corner, in screen pixels (game modules' HUDs). */
  hud?: JSX.Element;
}) {
  const newId = () => (props.newId ?? (() => crypto.randomUUID()))();
  const now = () => (props.now ?? Date.now)();
  const [mapSize, setMapSize] = createSignal<{ w: number; h: number } | null>(null);
  const [tool, setTool] = createSignal<LayerTool>("select");
  const [drawingStyle, setDrawingStyle] = createSignal<DrawingStyle>({ kind: "free", color: "#f0c364", width: 4 });
  const [draft, setDraft] = createSignal<Stroke | null>(null);
  const [erasing, setErasing] = createSignal<ReadonlySet<string>>(new Set());
  const [noteDraft, setNoteDraft] = createSignal<{ x: number; y: number } | null>(null);
  const [box, setBox] = createSignal<Rect | null>(null);
  const [groupDrag, setGroupDrag] = createSignal<{ leader: string; dx: number; dy: number } | null>(null);
  const [dropHover, setDropHover] = createSignal<{ x: number; y: number } | null>(null);
  let surface: HTMLDivElement | undefined;

  // --- the scene's grid: cell size, snapping, the ruler (see lib/grid.ts) ---
  const grid = createMemo(() => gridOf(props.scene));
  const cellPx = () => grid().size;
  const snapping = createSnapSetting();
  const [measuring, setMeasuring] = createSignal(false);
  const toPage = (clientX: number, clientY: number) => tablePoint({ clientX, clientY });

  const activeTool = (): LayerTool => (props.layerEdits ? tool() : measuring() ? "ruler" : "select");
  const selection = createMemo<readonly string[]>(() => props.selectedIds ?? (props.selectedId ? [props.selectedId] : []));
  const isSelected = (id: string) => selection().includes(id);

  const layers = createMemo(() => orderedLayers(props.layers ?? [], props.scene.id));
  // The layers themselves (stable objects of the view), so a new stroke redraws only its layer.
  const drawingLayers = createMemo(() => layers().filter((l) => l.layer_type === "drawings"));
  const allStrokes = createMemo(() => drawingLayers().flatMap((l) => readStrokes(l.payload)));
  const notes = createMemo(() => (props.showNotes ? layers().flatMap((l) => (l.layer_type === "notes" ? readNotes(l.payload) : [])) : []));

  const size = createMemo(() => {
    const base = mapSize() ?? { w: DEFAULT_WIDTH, h: DEFAULT_HEIGHT };
    let w = base.w;
    let h = base.h;
    for (const t of props.tokens) {
      w = Math.max(w, (t.x ?? 0) + cells(t.width) * cellPx() + cellPx());
      h = Math.max(h, (t.y ?? 0) + cells(t.height) * cellPx() + cellPx());
    }
    return { w, h };
  });
  const ghostsShown = createMemo(() =>
    props.tokens.flatMap((token) => {
      const ghost = props.ghosts[token.id];
      return ghost ? [{ token, ghost }] : [];
    }),
  );

  /** A pointer event's position on the table, in table pixels. */
  function tablePoint(event: { clientX: number; clientY: number }): { x: number; y: number } {
    const rect = surface?.getBoundingClientRect();
    return { x: Math.round(event.clientX - (rect?.left ?? 0)), y: Math.round(event.clientY - (rect?.top ?? 0)) };
  }

  // --- selection and moves --------------------------------------------------------------------

  /** The tokens that move with `token`: the selection when it is part of one, else itself. */
  function movingWith(token: Token): Token[] {
    if (!props.onMoveMany || !isSelected(token.id) || selection().length < 2) return [token];
    return props.tokens.filter((t) => isSelected(t.id) && props.canMove(t));
  }

  function onTokenPreview(token: Token, x: number, y: number) {
    if (movingWith(token).length > 1) setGroupDrag({ leader: token.id, dx: x - token.x, dy: y - token.y });
    props.onPreview(token, x, y);
  }

  function onTokenDrop(token: Token, x: number, y: number) {
    const group = movingWith(token);
    setGroupDrag(null);
    if (group.length > 1 && props.onMoveMany) {
      const dx = x - token.x;
      const dy = y - token.y;
      props.onMoveMany(group.map((t) => ({ token: t, x: Math.round(t.x + dx), y: Math.round(t.y + dy) })));
    } else props.onDrop(token, x, y);
  }

  function onTokenSelect(token: Token, additive: boolean) {
    if (additive && props.onSelectMany) props.onSelectMany(toggleInSelection(selection(), token.id));
    else if (props.onSelectMany) props.onSelectMany([token.id]);
    else props.onSelect(token.id);
  }

  function clearSelection() {
    if (props.onSelectMany) props.onSelectMany([]);
    else props.onSelect(null);
  }

  let boxStart: { x: number; y: number; additive: boolean; pointerId: number } | null = null;
  /** The click ending a box selection must not clear it. */
  let boxDrawn = false;

  function onSurfacePointerDown(event: PointerEvent & { currentTarget: HTMLDivElement }) {
    if (event.target !== event.currentTarget || event.button !== 0 || !props.onSelectMany) return;
    event.currentTarget.setPointerCapture?.(event.pointerId);
    boxStart = { ...tablePoint(event), additive: event.shiftKey || event.ctrlKey || event.metaKey, pointerId: event.pointerId };
    boxDrawn = false;
  }

  function onSurfacePointerMove(event: PointerEvent) {
    if (!boxStart || event.pointerId !== boxStart.pointerId) return;
    const at = tablePoint(event);
    if (!box() && Math.abs(at.x - boxStart.x) + Math.abs(at.y - boxStart.y) < BOX_THRESHOLD_PX) return;
    setBox(rectFromCorners(boxStart, at));
  }

  function onSurfacePointerUp() {
    const drawn = box();
    const start = boxStart;
    boxStart = null;
    setBox(null);
    if (!drawn || !start || !props.onSelectMany) return;
    boxDrawn = true;
    const caught = tokensInBox(props.tokens, drawn, cellPx());
    props.onSelectMany(start.additive ? [...selection(), ...caught.filter((id) => !isSelected(id))] : caught);
  }

  // --- drawing, notes, erasing ----------------------------------------------------------------

  let inputPointer: number | null = null;

  function onInputDown(event: PointerEvent & { currentTarget: HTMLDivElement }) {
    if (event.button !== 0 || !props.layerEdits) return;
    const at = tablePoint(event);
    const current = activeTool();
    if (current === "note") {
      setNoteDraft(at);
      return;
    }
    event.currentTarget.setPointerCapture?.(event.pointerId);
    inputPointer = event.pointerId;
    if (current === "draw") {
      const style = drawingStyle();
      setDraft({ id: newId(), kind: style.kind, points: [at.x, at.y], color: style.color, width: style.width, at: now() });
    } else if (current === "erase") {
      setErasing(new Set(eraseAt(at, new Set())));
    }
  }

  function eraseAt(at: { x: number; y: number }, already: ReadonlySet<string>): string[] {
    const hit = hitStroke(
      allStrokes().filter((s) => !already.has(s.id)),
      at.x,
      at.y,
    );
    return hit ? [...already, hit.id] : [...already];
  }

  function onInputMove(event: PointerEvent) {
    if (inputPointer !== event.pointerId) return;
    const at = tablePoint(event);
    const current = draft();
    if (current) {
      const points =
        current.kind === "free" ? [...current.points, at.x, at.y] : [current.points[0] ?? at.x, current.points[1] ?? at.y, at.x, at.y];
      setDraft({ ...current, points });
    } else if (activeTool() === "erase") {
      const next = eraseAt(at, erasing());
      if (next.length !== erasing().size) setErasing(new Set(next));
    }
  }

  function onInputUp() {
    inputPointer = null;
    const finished = draft();
    setDraft(null);
    if (finished && props.layerEdits) {
      const points = finished.kind === "free" ? simplifyPoints(finished.points) : finished.points;
      const [x0 = 0, y0 = 0] = points;
      const x1 = points[points.length - 2] ?? x0;
      const y1 = points[points.length - 1] ?? y0;
      // A click with a shape tool draws nothing; a click with the pen leaves a dot.
      if (finished.kind === "free" || Math.hypot(x1 - x0, y1 - y0) >= 2) props.layerEdits.addStroke({ ...finished, points });
    }
    const erased = [...erasing()];
    setErasing(new Set<string>());
    if (erased.length > 0) props.layerEdits?.eraseStrokes(erased);
  }

  // --- drops from the library -----------------------------------------------------------------

  function carriesLibraryToken(event: DragEvent): boolean {
    return props.onLibraryDrop !== undefined && [...(event.dataTransfer?.types ?? [])].includes(LIBRARY_DRAG_TYPE);
  }

  return (
    <>
      <Show when={props.layerEdits}>
        {(edits) => (
          <LayerToolbar
            tool={tool()}
            style={drawingStyle()}
            hasDrawings={allStrokes().length > 0}
            onTool={(next) => {
              setTool(next);
              setNoteDraft(null);
            }}
            onStyle={setDrawingStyle}
            onClearDrawings={() => edits().clearStrokes()}
          />
        )}
      </Show>
      <GridControls
        snap={snapping.snap()}
        onSnap={snapping.setSnap}
        {...(props.layerEdits ? {} : { measuring: measuring(), onMeasure: setMeasuring })}
      />
      <div class="table-frame">
        <section class="table-viewport" aria-label={`Table: ${props.scene.name}`}>
          {/* biome-ignore lint/a11y/noStaticElementInteractions: a click on empty table clears the selection, a drag draws a selection box; tokens are the buttons */}
          {/* biome-ignore lint/a11y/useKeyWithClickEvents: Escape on a token does the same from the keyboard */}
          <div
            ref={surface}
            class="table-surface"
            classList={{ "drop-target": dropHover() !== null }}
            style={{ width: `${size().w}px`, height: `${size().h}px`, "--accent": props.scene.accent_color ?? "var(--felt-light)" }}
            data-scene-id={props.scene.id}
            data-tool={activeTool()}
            onClick={(event) => {
              if (boxDrawn) {
                boxDrawn = false;
                return;
              }
              if (event.target === event.currentTarget) clearSelection();
            }}
            onPointerDown={onSurfacePointerDown}
            onPointerMove={onSurfacePointerMove}
            onPointerUp={onSurfacePointerUp}
            onPointerCancel={() => {
              boxStart = null;
              setBox(null);
            }}
            onDragOver={(event) => {
              if (!carriesLibraryToken(event)) return;
              event.preventDefault();
              if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
              setDropHover(libraryDropPoint(grid(), tablePoint(event).x, tablePoint(event).y, snapping.snap() && !event.altKey));
            }}
            onDragLeave={(event) => {
              if (event.target === event.currentTarget) setDropHover(null);
            }}
            onDrop={(event) => {
              setDropHover(null);
              if (!carriesLibraryToken(event)) return;
              const id = event.dataTransfer?.getData(LIBRARY_DRAG_TYPE);
              if (!id || !props.onLibraryDrop) return;
              event.preventDefault();
              const at = tablePoint(event);
              const cell = libraryDropPoint(grid(), at.x, at.y, snapping.snap() && !event.altKey);
              props.onLibraryDrop(id, cell.x, cell.y);
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
            <GridOverlay sceneId={props.scene.id} grid={grid()} width={size().w} height={size().h} opacity={props.gridOpacity} />
            <For each={drawingLayers()}>
              {(layer, index) => (
                <DrawingsLayer
                  layerId={layer.id}
                  strokes={readStrokes(layer.payload)}
                  width={size().w}
                  height={size().h}
                  erasing={erasing()}
                  draft={index() === drawingLayers().length - 1 ? draft() : null}
                />
              )}
            </For>
            <Show when={drawingLayers().length === 0 && draft()}>
              {(stroke) => <DrawingsLayer layerId="" strokes={[]} width={size().w} height={size().h} draft={stroke()} />}
            </Show>
            <For each={ghostsShown()}>
              {(entry) => (
                <div
                  class="token-ghost"
                  aria-hidden="true"
                  data-ghost-for={entry.token.id}
                  style={{
                    left: `${entry.ghost.x}px`,
                    top: `${entry.ghost.y}px`,
                    width: `${cells(entry.token.width) * cellPx()}px`,
                    height: `${cells(entry.token.height) * cellPx()}px`,
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
                  cellPx={cellPx()}
                  snap={(x, y, free) => tokenDropPoint(grid(), x, y, snapping.snap() && !free)}
                  selected={isSelected(token.id)}
                  unsaved={(props.pending[`token:${token.id}`] ?? 0) > 0}
                  offset={(() => {
                    const g = groupDrag();
                    return g && g.leader !== token.id && isSelected(token.id) && props.canMove(token) ? { dx: g.dx, dy: g.dy } : null;
                  })()}
                  handles={selection().length === 1 && (props.onResize !== undefined || props.onRotate !== undefined)}
                  onSelect={(additive) => onTokenSelect(token, additive)}
                  onDeselect={() => clearSelection()}
                  onPreview={(x, y) => onTokenPreview(token, x, y)}
                  onDrop={(x, y) => onTokenDrop(token, x, y)}
                  onResize={(width, height) => props.onResize?.(token, width, height)}
                  onRotate={(rotation) => props.onRotate?.(token, rotation)}
                />
              )}
            </For>
            {props.children}
            <Show when={activeTool() === "ruler"}>
              <Ruler scene={props.scene} toPage={toPage} />
            </Show>
            <Show when={activeTool() === "grid" && props.onFitGrid}>
              {(onFit) => <GridFitTool scene={props.scene} toPage={toPage} onFit={onFit()} />}
            </Show>
            <Show when={activeTool() === "draw" || activeTool() === "note" || activeTool() === "erase"}>
              <div
                class="layer-input"
                data-tool={activeTool()}
                aria-hidden="true"
                onPointerDown={onInputDown}
                onPointerMove={onInputMove}
                onPointerUp={onInputUp}
                onPointerCancel={() => {
                  inputPointer = null;
                  setDraft(null);
                  setErasing(new Set<string>());
                }}
              />
            </Show>
            <Show when={props.showNotes}>
              <NotesLayer
                notes={notes()}
                tool={activeTool()}
                draft={noteDraft()}
                onDraftClosed={() => setNoteDraft(null)}
                onSave={(note) => props.layerEdits?.putNote(note)}
                onDelete={(id) => props.layerEdits?.deleteNote(id)}
                newId={newId}
                now={now}
              />
            </Show>
            <Show when={box()}>
              {(rect) => (
                <div
                  class="selection-box"
                  aria-hidden="true"
                  style={{ left: `${rect().x}px`, top: `${rect().y}px`, width: `${rect().width}px`, height: `${rect().height}px` }}
                />
              )}
            </Show>
            <Show when={dropHover()}>
              {(cell) => (
                <div
                  class="drop-cell"
                  aria-hidden="true"
                  style={{ left: `${cell().x}px`, top: `${cell().y}px`, width: `${cellPx()}px`, height: `${cellPx()}px` }}
                />
              )}
            </Show>
          </div>
        </section>
        <div class="table-hud">{props.hud}</div>
      </div>
    </>
  );
}
