import { createGesture, dragAction, pinchAction, wheelAction } from "@use-gesture/vanilla";
import LocateFixed from "lucide-solid/icons/locate-fixed";
import Maximize from "lucide-solid/icons/maximize";
import ZoomIn from "lucide-solid/icons/zoom-in";
import ZoomOut from "lucide-solid/icons/zoom-out";
import { createContext, createEffect, createMemo, createSignal, For, type JSX, on, onCleanup, onMount, Show, useContext } from "solid-js";
import {
  type Camera,
  cameraTransform,
  centreOn,
  clampToCover,
  firstView,
  fit as fitCamera,
  IDENTITY,
  keepInView,
  PAN_STEP_PX,
  type Point,
  panBy,
  screenToPage,
  stepZoom,
  zoomAt,
  zoomTo,
} from "../lib/camera";
import type { CameraStore } from "../lib/camera-store";
import { hitStroke, type Note, orderedLayers, readNotes, readStrokes, type Stroke, simplifyPoints } from "../lib/drawing";
import { createSnapSetting, type GridPatch, gridOf, libraryDropPoint, tokenDropPoint } from "../lib/grid";
import { LIBRARY_DRAG_TYPE } from "../lib/library";
import { type Rect, rectFromCorners, toggleInSelection, tokensInBox } from "../lib/selection";
import type { Layer, Scene, Token, TokenArt } from "../lib/types";
import { assetFileUrl } from "../lib/upload";
import { DrawingsLayer } from "./DrawingsLayer";
import { GridControls } from "./GridControls";
import { GridFitTool } from "./GridFitTool";
import { GridOverlay } from "./GridOverlay";
import { type DrawingStyle, type LayerTool, LayerToolbar } from "./LayerToolbar";
import { NotesLayer } from "./NotesLayer";
import { Ruler } from "./Ruler";
import { TokenMenu } from "./TokenMenu";
import { cells, TokenPiece } from "./TokenPiece";

const createTableGesture = createGesture([dragAction, pinchAction, wheelAction]);

/** What the table offers the tools drawn inside it (a ruler, a grid fitter): its camera and one conversion. */
export interface TableView {
  /** The page point (scene pixels) under a pointer's client coordinates, at the current camera. */
  toPage(clientX: number, clientY: number): Point;
  camera(): Camera;
}

const TableViewContext = createContext<TableView>();

/** The table around a component drawn inside it (undefined elsewhere). */
export function useTableView(): TableView | undefined {
  return useContext(TableViewContext);
}

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
/** The first view of a scene (nothing stored yet): 100%, the map's corner below the floating bars. */
const HOME: Camera = { x: 24, y: 64, z: 1 };
/**
 * How far (map pixels) the felt goes on past the table's edges (the surface's shadow), so a view
 * past an edge (the map fitted to a wide window) shows more table rather than an empty band.
 */
const TABLE_MARGIN_PX = 4096;
/** Windows narrower than this (phones) open a scene on `firstView`, wider ones at 100% on the map's corner. */
export const NARROW_VIEW_PX = 700;
/** Below this zoom token names are not drawn (unreadable, and text is what costs most to redraw). */
export const LABELS_MIN_ZOOM = 0.5;
/** A wheel zoom is over when no notch came for this long. */
const WHEEL_REST_MS = 200;
/** Wheel zoom speed: a notch of a mouse wheel (deltaY 100) zooms by about 1.2. */
const WHEEL_ZOOM_RATE = 0.0018;
/** Elements a drag may start on without panning the table (they have their own drags or clicks). */
const OWN_POINTER =
  "button, a, input, textarea, select, label, form, [role='menu'], .layer-input, .ruler-input, .grid-fit-input, .table-floating, .table-hud, [data-painting]";

/**
 * The active scene as a table: the map image, the scene's grid (its cell size and offset, so its
 * lines fall on the map's), the scene's drawings layers, the tokens (sized in the grid's cells),
 * and (for GMs) the notes layers' pins on top.
 *
 * Absolutely positioned DOM rather than `<canvas>` or SVG: every token is a real button (focus,
 * keyboard, screen readers and `getByRole` come free), images are plain `<img>` that the browser
 * caches and lazily decodes, and pointer capture makes dragging simple. The grid is one element
 * with a repeated one-cell background, each drawings layer one SVG.
 *
 * The camera (lib/camera.ts) is one CSS transform on the page container (`.table-surface`), as
 * tldraw does: a pan or a zoom changes one style and the compositor moves the layers, whatever
 * the number of tokens. Wheel and trackpad pinch zoom around the pointer, two fingers pinch,
 * a drag on empty table (one finger, the middle button, or anywhere with Space held) pans; `+`,
 * `-` and the arrow keys (nothing selected) do the same from the keyboard. Every pointer position
 * goes through `toPage`, so drags, boxes, drawings, notes and drops land right at any zoom. Each
 * person's camera is kept per scene in this browser (`cameraStore`). The grid, the ruler and the
 * grid-fit box live in the transformed container, so they zoom and pan with the map; the tool
 * bars and the modules' `hud` (the initiative order) float over the viewport in screen pixels.
 *
 * The grid: tokens let go after a drag, and library drops, snap to it unless the user switched
 * "Snap to grid" off (in the view bar, kept in this browser) or holds Alt. The ruler ("Measure",
 * everyone's: in the GM's tool bar, in the view bar for players) and the grid-fit tool ("Fit
 * grid", with `onFitGrid`) read their pointers through `toPage`.
 *
 * Layers: `drawings` layers are drawn between the grid and the tokens, bottom to top by
 * `z_index` (then creation); `notes` layers are GM annotations, their pins always above the
 * tokens so they stay reachable. `map` and `fog` layers are not drawn here.
 *
 * Optional powers (the GM's): `onSelectMany` turns on shift-click and box selection, a selected
 * token dragged or moved by key moves the whole selection (`onMoveMany`); `onResize`/`onRotate`
 * give the single selected token its handles; `layerEdits` shows the tool bar (select, draw,
 * note, erase, measure, fit grid, then the modules' `tools`); `onLibraryDrop` accepts library tokens dragged onto the
 * table, at the grid cell under the pointer. With box selection, a Shift-drag on empty table draws
 * the box (a plain drag pans). `tokenMenu` fills the menu a right-click or a long press on a token
 * opens; `isOwn` marks the viewer's own tokens and gives them the "my token" button.
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
  /** Told of a note deleted through the notes layer (after `layerEdits.deleteNote`), so it can be undone. */
  onNoteDeleted?: (note: Note) => void;
  onLibraryDrop?: (tokenId: string, x: number, y: number) => void;
  /** Saves a grid fitted with the grid-fit tool (GMs). */
  onFitGrid?: (patch: GridPatch) => void;
  newId?: () => string;
  now?: () => number;
  /** Drawn over the map and the tokens, in table pixels (game modules' overlays). */
  children?: JSX.Element;
  /** Floats over the table's top right corner, in screen pixels (game modules' HUDs). */
  hud?: JSX.Element;
  /** Kept and restored per scene: this person's camera. */
  cameraStore?: CameraStore;
  /** The viewer's own tokens (a marker on them, and the "my token" button). */
  isOwn?: (token: Token) => boolean;
  /** More tools in the GM's tool bar (the modules'). */
  tools?: JSX.Element;
  /** The items of a token's menu; nothing opens when it gives none. */
  tokenMenu?: (token: Token, close: () => void) => JSX.Element;
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
  let viewport: HTMLElement | undefined;
  /** When the last pan ended (ms): the click the browser sends after it is swallowed. */
  let panEndedAt = 0;
  // Until a camera is restored: the map's top left at 100%, clear of the floating bars over the table's top.
  const [camera, setCameraSignal] = createSignal<Camera>(props.cameraStore ? HOME : IDENTITY);
  /** Every move of the camera keeps some of the map in the window (`keepInView`): a pan cannot lose it. */
  const setCamera = (next: Camera | ((current: Camera) => Camera)) =>
    setCameraSignal((current) => keepInView(typeof next === "function" ? next(current) : next, mapBounds(), viewportSize()));
  const [spaceHeld, setSpaceHeld] = createSignal(false);
  const [panning, setPanning] = createSignal(false);
  /**
   * A pan, a pinch or a wheel zoom under way (the wheel's until it rests a moment). Meanwhile a
   * shield covers the table, so the browser hit-tests one element, not every token, at each
   * pointer move and each frame; and what follows the zoom outside the one transform (the zoom
   * readout, the notes' size) waits for the camera to settle, so a frame changes nothing else.
   */
  const [wheeling, setWheeling] = createSignal(false);
  const [pinchingNow, setPinchingNow] = createSignal(false);
  const moving = () => panning() || pinchingNow() || wheeling();
  let wheelRest: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(wheelRest));
  /** The camera once no gesture moves it (see `moving`). */
  const [settled, setSettled] = createSignal<Camera>(camera());
  createEffect(() => {
    const current = camera();
    if (!moving()) setSettled(current);
  });
  const [menuFor, setMenuFor] = createSignal<{ tokenId: string; x: number; y: number } | null>(null);

  // --- the scene's grid: cell size, snapping, the ruler (see lib/grid.ts) ---
  const grid = createMemo(() => gridOf(props.scene));
  const cellPx = () => grid().size;
  const snapping = createSnapSetting();
  const [measuring, setMeasuring] = createSignal(false);

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

  // --- camera -----------------------------------------------------------------------------------

  /** A client point relative to the viewport's top left (the camera's screen space). */
  function viewportPoint(clientX: number, clientY: number): Point {
    const rect = viewport?.getBoundingClientRect();
    return { x: clientX - (rect?.left ?? 0), y: clientY - (rect?.top ?? 0) };
  }

  /** The page point (scene pixels) under client coordinates: the one conversion every pointer goes through. */
  function toPage(clientX: number, clientY: number): Point {
    return screenToPage(camera(), viewportPoint(clientX, clientY));
  }

  /** A pointer event's position on the table, in whole table pixels. */
  function tablePoint(event: { clientX: number; clientY: number }): { x: number; y: number } {
    const at = toPage(event.clientX, event.clientY);
    return { x: Math.round(at.x), y: Math.round(at.y) };
  }

  function viewportSize() {
    const rect = viewport?.getBoundingClientRect();
    return { width: rect?.width || 800, height: rect?.height || 600 };
  }
  const viewportCentre = () => {
    const size = viewportSize();
    return { x: size.width / 2, y: size.height / 2 };
  };
  const zoomStep = (direction: 1 | -1) => setCamera((c) => zoomTo(c, viewportCentre(), stepZoom(c.z, direction)));
  const mapBounds = () => {
    const map = mapSize();
    return map ? { x: 0, y: 0, width: map.w, height: map.h } : { x: 0, y: 0, width: size().w, height: size().h };
  };
  const fitMap = () => setCamera(fitCamera(mapBounds(), viewportSize()));
  const actualSize = () => setCamera((c) => zoomTo(c, viewportCentre(), 1));

  // A memo: the tokens' names restyle only when the zoom crosses the threshold, not at every frame.
  const labelsShown = createMemo(() => camera().z >= LABELS_MIN_ZOOM);

  const ownTokens = createMemo(() => (props.isOwn ? props.tokens.filter((t) => props.isOwn?.(t)) : []));
  let nextOwn = 0;
  function centreOnMine() {
    const mine = ownTokens();
    if (mine.length === 0) return;
    const token = mine[nextOwn % mine.length] as Token;
    nextOwn = (nextOwn + 1) % mine.length;
    const centre = { x: token.x + (cells(token.width) * cellPx()) / 2, y: token.y + (cells(token.height) * cellPx()) / 2 };
    // Centred, but never past the map's edges where the map can fill the window (a token near
    // the map's top on a phone shows map above it, not an empty band of table).
    const map = mapBounds();
    const w = cells(token.width) * cellPx();
    const h = cells(token.height) * cellPx();
    const left = Math.min(map.x, token.x);
    const top = Math.min(map.y, token.y);
    const around = {
      x: left,
      y: top,
      width: Math.max(map.x + map.width, token.x + w) - left,
      height: Math.max(map.y + map.height, token.y + h) - top,
    };
    setCamera((c) => clampToCover(centreOn(c, centre, viewportSize()), around, viewportSize()));
    // Focus follows, so the keyboard can move it at once.
    [...(viewport?.querySelectorAll<HTMLButtonElement>("button.token") ?? [])]
      .find((b) => b.dataset.tokenId === token.id)
      ?.focus({ preventScroll: true });
  }

  // Restored per scene; saved a moment after it settles. With none kept, a wide window opens at
  // 100% on the map's corner (HOME); a phone's (narrower than NARROW_VIEW_PX) shows the map
  // (`firstView`: covering the window around the viewer's token) once its size is known, unless
  // the person moved the camera meanwhile.
  let restored = false;
  let wantsFirstView = false;
  function placeFirstView() {
    if (!wantsFirstView || (props.scene.map_asset && !mapSize())) return;
    if (viewportSize().width >= NARROW_VIEW_PX) {
      wantsFirstView = false;
      return;
    }
    wantsFirstView = false;
    const mine = ownTokens()[0];
    const focus = mine ? { x: mine.x + (cells(mine.width) * cellPx()) / 2, y: mine.y + (cells(mine.height) * cellPx()) / 2 } : undefined;
    setCamera(firstView(mapBounds(), viewportSize(), focus));
  }
  onMount(() => {
    const store = props.cameraStore;
    if (!store) {
      restored = true;
      return;
    }
    const sceneId = props.scene.id;
    void store.load(sceneId).then((saved) => {
      if (!restored) {
        if (saved) setCamera(saved);
        else wantsFirstView = true;
      }
      restored = true;
      placeFirstView();
    });
  });
  createEffect(on(mapSize, placeFirstView, { defer: true }));
  let saveTimer: ReturnType<typeof setTimeout> | undefined;
  createEffect(
    on(
      camera,
      (current) => {
        const store = props.cameraStore;
        if (!store) return;
        restored = true;
        if (current !== HOME) wantsFirstView = false;
        clearTimeout(saveTimer);
        const sceneId = props.scene.id;
        saveTimer = setTimeout(() => void store.save(sceneId, current), 250);
      },
      { defer: true },
    ),
  );
  onCleanup(() => clearTimeout(saveTimer));

  function isEditable(target: EventTarget | null): boolean {
    return target instanceof Element && target.closest("input, textarea, select, [contenteditable='true']") !== null;
  }

  // Keyboard: + and - zoom, arrows pan when nothing is selected, Space held pans with any drag.
  onMount(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || isEditable(event.target)) return;
      const target = event.target;
      const onTable =
        target === document.body || target === document.documentElement || (target instanceof Node && viewport?.contains(target));
      if (!onTable) return;
      if (event.key === " " && !(target instanceof HTMLButtonElement)) {
        event.preventDefault();
        setSpaceHeld(true);
        return;
      }
      if (event.key === "+" || event.key === "=") {
        event.preventDefault();
        zoomStep(1);
        return;
      }
      if (event.key === "-" || event.key === "_") {
        event.preventDefault();
        zoomStep(-1);
        return;
      }
      const pan: Record<string, [number, number]> = {
        ArrowLeft: [PAN_STEP_PX, 0],
        ArrowRight: [-PAN_STEP_PX, 0],
        ArrowUp: [0, PAN_STEP_PX],
        ArrowDown: [0, -PAN_STEP_PX],
      };
      const step = pan[event.key];
      if (!step || selection().length > 0) return;
      event.preventDefault();
      setCamera((c) => panBy(c, step[0], step[1]));
    };
    const onKeyUp = (event: KeyboardEvent) => {
      if (event.key === " ") setSpaceHeld(false);
    };
    const onBlur = () => setSpaceHeld(false);
    window.addEventListener("keydown", onKeyDown);
    window.addEventListener("keyup", onKeyUp);
    window.addEventListener("blur", onBlur);
    onCleanup(() => {
      window.removeEventListener("keydown", onKeyDown);
      window.removeEventListener("keyup", onKeyUp);
      window.removeEventListener("blur", onBlur);
    });
  });

  // Pointer gestures (@use-gesture): drag to pan, pinch (two fingers, or a trackpad pinch: ctrl+wheel) and wheel to zoom.
  onMount(() => {
    if (!viewport) return;
    const element = viewport;
    let pinching = false;
    let pinchOrigin: Point | null = null;
    let dragPans = false;
    const gesture = createTableGesture(
      element,
      {
        onDrag: (state) => {
          const event = state.event as PointerEvent;
          if (state.first) {
            const target = event.target instanceof Element ? event.target : null;
            const middle = state.buttons === 4;
            const free = target !== null && target.closest(OWN_POINTER) === null && !event.shiftKey && !event.ctrlKey && !event.metaKey;
            dragPans = !pinching && (middle || spaceHeld() || (free && activeTool() === "select"));
            if (dragPans) setPanning(true);
          }
          if (state.last) {
            if (dragPans) setPanning(false);
            // The click that ends a pan is not a click on the empty table (it would clear the selection).
            if (dragPans && Math.hypot(state.movement[0], state.movement[1]) > 3) panEndedAt = Date.now();
            dragPans = false;
            return;
          }
          if (!dragPans || pinching || state.touches > 1) return;
          const [dx, dy] = state.delta;
          if (dx !== 0 || dy !== 0) setCamera((c) => panBy(c, dx, dy));
        },
        onPinch: (state) => {
          if (state.first) {
            pinching = true;
            setPinchingNow(true);
            pinchOrigin = null;
            if (dragPans) setPanning(false);
            dragPans = false;
          }
          const origin = viewportPoint(state.origin[0], state.origin[1]);
          const [scale] = state.offset;
          setCamera((c) => {
            let next = zoomTo(c, origin, scale);
            // Two fingers moving together pan as they pinch.
            if (pinchOrigin && state.type !== "wheel") next = panBy(next, origin.x - pinchOrigin.x, origin.y - pinchOrigin.y);
            return next;
          });
          pinchOrigin = origin;
          if (state.last) {
            pinching = false;
            setPinchingNow(false);
            pinchOrigin = null;
          }
        },
        onWheel: (state) => {
          const event = state.event as WheelEvent;
          if (event.ctrlKey || pinching) return;
          const target = event.target instanceof Element ? event.target : null;
          if (target?.closest(".table-floating, .table-hud, [role='menu'], .note-editor")) return;
          event.preventDefault();
          setWheeling(true);
          clearTimeout(wheelRest);
          wheelRest = setTimeout(() => setWheeling(false), WHEEL_REST_MS);
          const dy = event.deltaMode === 1 ? event.deltaY * 33 : event.deltaY;
          const at = viewportPoint(event.clientX, event.clientY);
          setCamera((c) => zoomAt(c, at, Math.exp(-dy * WHEEL_ZOOM_RATE)));
        },
      },
      {
        drag: { pointer: { buttons: [1, 4], capture: false }, filterTaps: true, threshold: 3 },
        pinch: { from: () => [camera().z, 0], scaleBounds: { min: 0.1, max: 8 }, pointer: { touch: false } },
        wheel: { eventOptions: { passive: false } },
        eventOptions: { passive: false },
      },
    );
    // A trackpad pinch arrives as ctrl+wheel: never let the browser zoom the page instead.
    const stopPageZoom = (event: WheelEvent) => {
      if (event.ctrlKey) event.preventDefault();
    };
    element.addEventListener("wheel", stopPageZoom, { passive: false });
    onCleanup(() => {
      gesture.destroy();
      element.removeEventListener("wheel", stopPageZoom);
    });
  });

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
    // A plain drag pans the table; Shift (or Ctrl/⌘) draws the selection box.
    if (!(event.shiftKey || event.ctrlKey || event.metaKey) || spaceHeld()) return;
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

  const view: TableView = { toPage, camera };
  const menuToken = () => {
    const open = menuFor();
    return open ? props.tokens.find((t) => t.id === open.tokenId) : undefined;
  };

  return (
    <TableViewContext.Provider value={view}>
      <section
        ref={viewport}
        class="table-viewport"
        classList={{ panning: panning(), "space-pan": spaceHeld() }}
        aria-label={`Table: ${props.scene.name}`}
        data-zoom={camera().z.toFixed(3)}
        data-labels={labelsShown() ? "on" : "off"}
        data-camera={`${camera().x.toFixed(1)},${camera().y.toFixed(1)},${camera().z.toFixed(4)}`}
      >
        {/* biome-ignore lint/a11y/noStaticElementInteractions: a click on empty table clears the selection, a drag draws a selection box; tokens are the buttons */}
        {/* biome-ignore lint/a11y/useKeyWithClickEvents: Escape on a token does the same from the keyboard */}
        <div
          ref={surface}
          class="table-surface"
          classList={{ "drop-target": dropHover() !== null }}
          style={{
            width: `${size().w}px`,
            height: `${size().h}px`,
            transform: cameraTransform(camera()),
            "--accent": props.scene.accent_color ?? "var(--felt-light)",
            "--table-margin": `${TABLE_MARGIN_PX}px`,
          }}
          data-scene-id={props.scene.id}
          data-tool={activeTool()}
          onClick={(event) => {
            if (Date.now() - panEndedAt < 500) {
              panEndedAt = 0;
              return;
            }
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
            const at = tablePoint(event);
            setDropHover(libraryDropPoint(grid(), at.x, at.y, snapping.snap() && !event.altKey));
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
                decoding="async"
                onLoad={(event) => setMapSize({ w: event.currentTarget.naturalWidth, h: event.currentTarget.naturalHeight })}
              />
            )}
          </Show>
          <GridOverlay grid={grid()} width={size().w} height={size().h} opacity={props.gridOpacity} />
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
                own={props.isOwn?.(token) ?? false}
                zoom={camera().z}
                onMenu={
                  props.tokenMenu
                    ? (clientX, clientY) => {
                        const at = viewportPoint(clientX, clientY);
                        setMenuFor({ tokenId: token.id, x: at.x, y: at.y });
                      }
                    : undefined
                }
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
            <div class="ruler-zoom" style={{ "--zoom": String(camera().z) }}>
              <Ruler scene={props.scene} toPage={toPage} />
            </div>
          </Show>
          <Show when={activeTool() === "grid" && props.onFitGrid}>
            {(onFit) => <GridFitTool scene={props.scene} toPage={toPage} onFit={onFit()} hintMount={viewport} />}
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
            {/* The zoom reaches the notes alone (they keep their size): a variable on the surface would restyle every token at each zoom. */}
            <div class="notes-zoom" style={{ "--zoom": String(settled().z) }}>
              <NotesLayer
                notes={notes()}
                tool={activeTool()}
                draft={noteDraft()}
                onDraftClosed={() => setNoteDraft(null)}
                onSave={(note) => props.layerEdits?.putNote(note)}
                onDelete={(id) => {
                  const note = notes().find((n) => n.id === id);
                  props.layerEdits?.deleteNote(id);
                  if (note) props.onNoteDeleted?.(note);
                }}
                newId={newId}
                now={now}
              />
            </div>
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
        <Show when={moving()}>
          <div class="table-shield" aria-hidden="true" />
        </Show>
        <Show when={props.layerEdits}>
          {(edits) => (
            <div class="table-floating table-floating-tools">
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
              >
                {props.tools}
              </LayerToolbar>
            </div>
          )}
        </Show>
        <div class="table-hud">{props.hud}</div>
        <div class="table-floating table-floating-view" role="toolbar" aria-label="View">
          <GridControls
            snap={snapping.snap()}
            onSnap={snapping.setSnap}
            {...(props.layerEdits ? {} : { measuring: measuring(), onMeasure: setMeasuring })}
          />
          <Show when={ownTokens().length > 0}>
            <button
              type="button"
              class="icon-button"
              aria-label={ownTokens().length > 1 ? "My tokens (next)" : "My token"}
              title="Centre on my token"
              onClick={centreOnMine}
            >
              <LocateFixed aria-hidden="true" />
            </button>
          </Show>
          <button type="button" class="icon-button" aria-label="Zoom out" title="Zoom out (-)" onClick={() => zoomStep(-1)}>
            <ZoomOut aria-hidden="true" />
          </button>
          <button type="button" class="icon-button zoom-readout" aria-label="Zoom to 100%" title="Actual size" onClick={actualSize}>
            {Math.round(settled().z * 100)}%
          </button>
          <button type="button" class="icon-button" aria-label="Zoom in" title="Zoom in (+)" onClick={() => zoomStep(1)}>
            <ZoomIn aria-hidden="true" />
          </button>
          <button type="button" class="icon-button" aria-label="Fit map" title="Fit the map to the window" onClick={fitMap}>
            <Maximize aria-hidden="true" />
          </button>
        </div>
        <Show when={menuToken()} keyed>
          {(token) => (
            <TokenMenu token={token} x={menuFor()?.x ?? 0} y={menuFor()?.y ?? 0} onClose={() => setMenuFor(null)}>
              {props.tokenMenu?.(token, () => setMenuFor(null))}
            </TokenMenu>
          )}
        </Show>
      </section>
    </TableViewContext.Provider>
  );
}
