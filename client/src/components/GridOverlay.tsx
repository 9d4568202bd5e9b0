import type { Grid } from "../lib/grid";

/**
 * The scene's grid over the map: one SVG pattern of cell lines (cheap at any size), shifted by
 * the grid's offset so its lines fall on the map's. Each cell draws its top and left edges.
 * `margin` (map pixels) carries the grid on beyond each edge of the table, so the table seems to
 * go on when the camera shows past its edge (a token near the top centred on a phone); the
 * `viewBox` keeps the pattern in map pixels either way.
 */
export function GridOverlay(props: { sceneId: string; grid: Grid; width: number; height: number; opacity: number; margin?: number }) {
  const id = () => `grid-${props.sceneId}`;
  const s = () => props.grid.size;
  const m = () => Math.max(0, props.margin ?? 0);
  return (
    <svg
      class="table-grid"
      width={props.width + 2 * m()}
      height={props.height + 2 * m()}
      viewBox={`${-m()} ${-m()} ${props.width + 2 * m()} ${props.height + 2 * m()}`}
      aria-hidden="true"
      style={{ opacity: String(props.opacity), left: `${-m()}px`, top: `${-m()}px` }}
      data-grid-size={s()}
      data-grid-offset={`${props.grid.offsetX},${props.grid.offsetY}`}
    >
      <defs>
        <pattern id={id()} x={props.grid.offsetX} y={props.grid.offsetY} width={s()} height={s()} patternUnits="userSpaceOnUse">
          <path d={`M ${s()} 0 L 0 0 0 ${s()}`} fill="none" stroke="currentColor" stroke-width="1" />
        </pattern>
      </defs>
      <rect x={-m()} y={-m()} width="100%" height="100%" fill={`url(#${id()})`} />
    </svg>
  );
}
