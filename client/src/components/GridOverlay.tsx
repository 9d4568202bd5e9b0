import type { Grid } from "../lib/grid";

/** The colour of the grid's lines (the table's parchment; the overlay's opacity fades them). */
const LINE_COLOUR = "#ece3cf";

/** One cell of the grid as an SVG image: its top and left edges. */
function cellTile(size: number): string {
  const svg = `<svg xmlns='http://www.w3.org/2000/svg' width='${size}' height='${size}'><path d='M ${size} 0 L 0 0 0 ${size}' fill='none' stroke='${LINE_COLOUR}' stroke-width='1'/></svg>`;
  return `url("data:image/svg+xml,${encodeURIComponent(svg)}")`;
}

/**
 * The scene's grid over the table: one element whose background repeats a one-cell SVG tile,
 * shifted by the grid's offset so its lines fall on the map's. Each cell draws its top and left
 * edges. A background image rather than an inline SVG `<pattern>`: a pattern is drawn again at
 * every change of the camera's transform, and with it every token of the layer (measured with
 * `npm run bench -- client`); a background is drawn once and only moved. For the same reason it
 * covers the table only, not the felt beyond its edges (content far past the layer's edges is
 * redrawn as the view moves).
 */
export function GridOverlay(props: { grid: Grid; width: number; height: number; opacity: number }) {
  const s = () => props.grid.size;
  return (
    <div
      class="table-grid"
      aria-hidden="true"
      style={{
        width: `${props.width}px`,
        height: `${props.height}px`,
        opacity: String(props.opacity),
        "background-image": cellTile(s()),
        "background-size": `${s()}px ${s()}px`,
        "background-position": `${props.grid.offsetX}px ${props.grid.offsetY}px`,
      }}
      data-grid-size={s()}
      data-grid-offset={`${props.grid.offsetX},${props.grid.offsetY}`}
    />
  );
}
