import { createEffect, createMemo, createSignal, onCleanup, Show } from "solid-js";
import type { CanvasOverlayProps } from "../../client/src/lib/modules";
import type { Token } from "../../client/src/lib/types";
import { fogChunks, fogToolState, sceneFog, submitFogOps } from "./client-tools";
import { countRevealed, type FogShape, fogOps, gridOf, type Point } from "./editing";
import { CHUNK_CELLS, decodeChunk } from "./mask";

/** Hidden cells: opaque for players, see-through for GMs (who paint the fog over what they see). */
const HIDDEN_RGB = [16, 18, 24] as const;
/** How far beyond the mask the players' fog reaches: past any table (a shadow never adds scrolling). */
const OUTSIDE_SPREAD_PX = 32_768;
export const PLAYER_HIDDEN_ALPHA = 255;
export const GM_HIDDEN_ALPHA = 140;

/**
 * The fog of the shown scene over the map and the tokens: one canvas pixel per fog cell, scaled
 * to the mask's size, redrawn chunk by chunk when a chunk's bits change. Nothing when the scene
 * has no fog or its fog is off.
 *
 * For tests: `data-fog-view` ("opaque" for players, "translucent" for GMs), `data-revealed-cells`
 * (revealed cells over every chunk shown) and `data-fog-chunks` (chunks stored) on the overlay.
 *
 * While the GM holds a fog tool the overlay takes the pointer (a stroke or a shape is one batch
 * of chunk ops); otherwise it lets every pointer through to the tokens below.
 */
export function FogOverlay(props: CanvasOverlayProps) {
  const tools = fogToolState(props.sync);
  const fog = createMemo(() => {
    const found = sceneFog(props.sync, props.scene.id);
    return found?.enabled ? found : undefined;
  });
  const chunks = createMemo(() => {
    const f = fog();
    return f ? fogChunks(props.sync, f.id) : [];
  });
  const grid = createMemo(() => {
    const f = fog();
    return f ? gridOf(f) : null;
  });
  const alpha = () => (props.isGm ? GM_HIDDEN_ALPHA : PLAYER_HIDDEN_ALPHA);
  /** A player's own tokens show through the fog (the server sends them to their owner under fog too). */
  const holes = createMemo(() => (props.isGm ? "" : ownTokenHoles(props.tokens, props.userId, props.cellPx)));
  const painting = () => props.isGm && tools.tool() !== null;

  /** Revealed cells per chunk square, counted when the chunk changes. */
  const [revealed, setRevealed] = createSignal(0);
  let canvas: HTMLCanvasElement | undefined;
  let drawnOn: HTMLCanvasElement | undefined;
  let drawnFor = "";
  let drawn = new Map<string, string>();
  let counts = new Map<string, number>();

  createEffect(() => {
    const g = grid();
    const list = chunks();
    const a = alpha();
    if (!g || !canvas) return;
    const layout = `${g.cols}x${g.rows}@${a}`;
    const ctx = contextOf(canvas);
    if (layout !== drawnFor || canvas !== drawnOn) {
      // A new canvas, size or view: start over from a fully hidden mask.
      canvas.width = g.cols;
      canvas.height = g.rows;
      drawnFor = layout;
      drawnOn = canvas;
      drawn = new Map();
      counts = new Map();
      if (ctx) {
        ctx.clearRect(0, 0, g.cols, g.rows);
        ctx.fillStyle = `rgba(${HIDDEN_RGB.join(",")},${a / 255})`;
        ctx.fillRect(0, 0, g.cols, g.rows);
      }
    }
    const seen = new Set<string>();
    for (const chunk of list) {
      if (chunk.cx >= g.chunksX || chunk.cy >= g.chunksY) continue;
      const key = `${chunk.cx},${chunk.cy}`;
      seen.add(key);
      if (drawn.get(key) === chunk.bits) continue;
      const cells = decodeChunk(chunk.bits);
      drawn.set(key, chunk.bits);
      counts.set(key, cells ? countRevealed(cells) : 0);
      if (ctx) drawChunk(ctx, chunk.cx, chunk.cy, cells, a);
    }
    for (const key of [...drawn.keys()]) {
      if (seen.has(key)) continue;
      // A chunk no longer shown (archived, or a pending create undone): hidden again.
      drawn.delete(key);
      counts.delete(key);
      const [cx, cy] = key.split(",").map(Number);
      if (ctx) drawChunk(ctx, cx ?? 0, cy ?? 0, null, a);
    }
    let total = 0;
    for (const n of counts.values()) total += n;
    setRevealed(total);
  });

  // --- painting -----------------------------------------------------------------------------

  const [draft, setDraft] = createSignal<{ points: Point[]; pointerId: number } | null>(null);
  let surface: HTMLDivElement | undefined;
  let disposed = false;
  onCleanup(() => {
    disposed = true;
  });

  function mapPoint(event: { clientX: number; clientY: number }): Point {
    const f = fog();
    const rect = surface?.getBoundingClientRect();
    const sx = rect && f && rect.width > 0 ? f.width_px / rect.width : 1;
    const sy = rect && f && rect.height > 0 ? f.height_px / rect.height : 1;
    return { x: (event.clientX - (rect?.left ?? 0)) * sx, y: (event.clientY - (rect?.top ?? 0)) * sy };
  }

  function onPointerDown(event: PointerEvent & { currentTarget: HTMLDivElement }) {
    if (!painting() || event.button !== 0) return;
    event.preventDefault();
    event.stopPropagation();
    event.currentTarget.setPointerCapture?.(event.pointerId);
    setDraft({ points: [mapPoint(event)], pointerId: event.pointerId });
  }

  function onPointerMove(event: PointerEvent) {
    const current = draft();
    const tool = tools.tool();
    if (!current || !tool || current.pointerId !== event.pointerId) return;
    const at = mapPoint(event);
    if (tool.shape !== "brush") {
      setDraft({ ...current, points: [current.points[0] ?? at, at] });
      return;
    }
    const last = current.points[current.points.length - 1];
    // Points closer than a quarter of the radius add nothing the swept disc does not cover.
    const step = Math.max(2, tools.radius() / 4);
    if (last && Math.hypot(at.x - last.x, at.y - last.y) < step) return;
    setDraft({ ...current, points: [...current.points, at] });
  }

  function onPointerUp(event: PointerEvent) {
    const current = draft();
    const tool = tools.tool();
    if (!current || current.pointerId !== event.pointerId) return;
    setDraft(null);
    const f = fog();
    if (!tool || !f || disposed) return;
    const end = mapPoint(event);
    const shape = shapeOf(tool.shape, [...current.points, end], tools.radius());
    if (!shape) return;
    const ops = fogOps(f, fogChunks(props.sync, f.id), shape, tool.mode);
    submitFogOps(props.sync, ops).catch((error: unknown) =>
      console.error(JSON.stringify({ level: "error", msg: "fog stroke not queued", error: String(error) })),
    );
  }

  return (
    <Show when={fog()}>
      {(f) => (
        <div
          ref={surface}
          class="fog-overlay"
          data-testid="fog-overlay"
          data-fog-id={f().id}
          data-fog-view={props.isGm ? "translucent" : "opaque"}
          data-revealed-cells={revealed()}
          data-fog-chunks={chunks().length}
          data-painting={painting() ? (tools.tool()?.shape ?? "") : undefined}
          aria-hidden="true"
          style={{
            position: "absolute",
            left: "0",
            top: "0",
            width: `${f().width_px}px`,
            height: `${f().height_px}px`,
            "z-index": "3",
            "pointer-events": painting() ? "auto" : "none",
            cursor: painting() ? "crosshair" : "default",
            "touch-action": "none",
          }}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={() => setDraft(null)}
        >
          <canvas
            ref={canvas}
            style={{
              position: "absolute",
              inset: "0",
              width: `${(grid()?.cols ?? 0) * f().cell_px}px`,
              height: `${(grid()?.rows ?? 0) * f().cell_px}px`,
              "image-rendering": "pixelated",
              "pointer-events": "none",
              // Beyond the mask (the table around a smaller map) players see nothing either.
              ...(props.isGm ? {} : { "box-shadow": `0 0 0 ${OUTSIDE_SPREAD_PX}px rgb(${HIDDEN_RGB.join(",")})` }),
              ...(holes() ? { "clip-path": holes() } : {}),
            }}
          />
          <Show when={draft()}>
            {(d) => <DraftPreview tool={tools.tool()?.shape ?? "brush"} points={d().points} radius={tools.radius()} />}
          </Show>
        </div>
      )}
    </Show>
  );
}

/**
 * A clip path (in table pixels, the canvas's own) that keeps the fog, its outer shade included,
 * everywhere but over the player's own tokens; "" when they own none.
 */
export function ownTokenHoles(tokens: readonly Token[], userId: string, cellPx: number): string {
  const size = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 1);
  const boxes = tokens
    .filter((t) => Array.isArray(t.owner_user_ids) && t.owner_user_ids.includes(userId))
    .map((t) => `M${t.x ?? 0} ${t.y ?? 0}h${size(t.width) * cellPx}v${size(t.height) * cellPx}h${-size(t.width) * cellPx}Z`);
  if (boxes.length === 0) return "";
  const far = OUTSIDE_SPREAD_PX * 2;
  return `path(evenodd, "M${-far} ${-far}H${far}V${far}H${-far}Z${boxes.join("")}")`;
}

/** The shape a finished gesture paints, or null when it covers nothing (a click with a shape tool). */
export function shapeOf(tool: "brush" | "rect" | "ellipse", points: readonly Point[], radius: number): FogShape | null {
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) return null;
  if (tool === "brush") return { kind: "brush", points, radius };
  if (Math.abs(last.x - first.x) < 1 || Math.abs(last.y - first.y) < 1) return null;
  return { kind: tool, from: first, to: last };
}

function DraftPreview(props: { tool: "brush" | "rect" | "ellipse"; points: readonly Point[]; radius: number }) {
  const box = () => {
    const a = props.points[0] ?? { x: 0, y: 0 };
    const b = props.points[props.points.length - 1] ?? a;
    return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(b.x - a.x), h: Math.abs(b.y - a.y) };
  };
  return (
    <svg
      aria-hidden="true"
      style={{ position: "absolute", inset: "0", width: "100%", height: "100%", overflow: "visible", "pointer-events": "none" }}
    >
      <Show when={props.tool === "brush"}>
        <polyline
          points={props.points.map((p) => `${p.x},${p.y}`).join(" ")}
          fill="none"
          stroke="rgb(240 195 100 / 35%)"
          stroke-width={props.radius * 2}
          stroke-linecap="round"
          stroke-linejoin="round"
        />
      </Show>
      <Show when={props.tool === "rect"}>
        <rect x={box().x} y={box().y} width={box().w} height={box().h} fill="rgb(240 195 100 / 20%)" stroke="rgb(240 195 100)" />
      </Show>
      <Show when={props.tool === "ellipse"}>
        <ellipse
          cx={box().x + box().w / 2}
          cy={box().y + box().h / 2}
          rx={box().w / 2}
          ry={box().h / 2}
          fill="rgb(240 195 100 / 20%)"
          stroke="rgb(240 195 100)"
        />
      </Show>
    </svg>
  );
}

/** The canvas's 2D context, or null where there is none (a DOM without canvas support). */
function contextOf(canvas: HTMLCanvasElement): CanvasRenderingContext2D | null {
  try {
    return canvas.getContext("2d");
  } catch {
    return null;
  }
}

/** Draws one chunk's cells: hidden ones in the fog colour at `alpha`, revealed ones clear; null: all hidden. */
function drawChunk(ctx: CanvasRenderingContext2D, cx: number, cy: number, cells: Uint8Array | null, alpha: number) {
  const image = ctx.createImageData(CHUNK_CELLS, CHUNK_CELLS);
  const data = image.data;
  for (let i = 0; i < CHUNK_CELLS * CHUNK_CELLS; i++) {
    if (cells?.[i]) continue;
    data[i * 4] = HIDDEN_RGB[0];
    data[i * 4 + 1] = HIDDEN_RGB[1];
    data[i * 4 + 2] = HIDDEN_RGB[2];
    data[i * 4 + 3] = alpha;
  }
  ctx.putImageData(image, cx * CHUNK_CELLS, cy * CHUNK_CELLS);
}
