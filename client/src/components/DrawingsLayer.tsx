import { For, Show } from "solid-js";
import { type Stroke, strokePath } from "../lib/drawing";

/**
 * One `drawings` layer: its strokes as SVG paths over the map, under the tokens. `erasing` strokes
 * (under the eraser, not yet erased) show faded; `draft` is the stroke being drawn.
 */
export function DrawingsLayer(props: {
  layerId: string;
  strokes: Stroke[];
  width: number;
  height: number;
  erasing?: ReadonlySet<string>;
  draft?: Stroke | null;
}) {
  return (
    <svg class="drawings-layer" width={props.width} height={props.height} data-layer-id={props.layerId} aria-hidden="true">
      <For each={props.strokes}>
        {(stroke) => (
          <path
            d={strokePath(stroke)}
            stroke={stroke.color}
            stroke-width={stroke.width}
            fill="none"
            stroke-linecap="round"
            stroke-linejoin="round"
            data-stroke-id={stroke.id}
            classList={{ erasing: props.erasing?.has(stroke.id) ?? false }}
          />
        )}
      </For>
      <Show when={props.draft}>
        {(draft) => (
          <path
            class="stroke-draft"
            d={strokePath(draft())}
            stroke={draft().color}
            stroke-width={draft().width}
            fill="none"
            stroke-linecap="round"
            stroke-linejoin="round"
          />
        )}
      </Show>
    </svg>
  );
}
