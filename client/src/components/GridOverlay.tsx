import type { Grid } from "../lib/grid";

/**
 * The scene's grid over the map: one SVG pattern of cell lines (cheap at any size), shifted by
 * the grid's offset so its lines fall on the map's. Each cell draws its top and left edges.
 */
export function GridOverlay(props: { sceneId: string; grid: Grid; width: number; height: number; opacity: number }) {
  const id = () => `grid-${props.sceneId}`;
  const s = () => props.grid.size;
  return (
    <svg
      class="table-grid"
      width={props.width}
      height={props.height}
      aria-hidden="true"
      style={{ opacity: String(props.opacity) }}
      data-grid-size={s()}
      data-grid-offset={`${props.grid.offsetX},${props.grid.offsetY}`}
    >
      <defs>
        <pattern id={id()} x={props.grid.offsetX} y={props.grid.offsetY} width={s()} height={s()} patternUnits="userSpaceOnUse">
          <path d={`M ${s()} 0 L 0 0 0 ${s()}`} fill="none" stroke="currentColor" stroke-width="1" />
        </pattern>
      </defs>
      <rect width="100%" height="100%" fill={`url(#${id()})`} />
    </svg>
  );
}
