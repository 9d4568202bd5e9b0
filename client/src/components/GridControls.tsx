import Magnet from "lucide-solid/icons/magnet";
import RulerIcon from "lucide-solid/icons/ruler";
import { Show } from "solid-js";
import "./grid.css";

/**
 * Grid controls in the table's view bar, for everyone: whether drops snap to the grid (hold Alt
 * for one free drop), and, for those without the GM's tool bar, the ruler.
 */
export function GridControls(props: {
  snap: boolean;
  onSnap: (on: boolean) => void;
  measuring?: boolean;
  onMeasure?: (on: boolean) => void;
}) {
  return (
    <fieldset class="grid-controls">
      <legend class="visually-hidden">Grid</legend>
      <Show when={props.onMeasure}>
        {(onMeasure) => (
          <button
            type="button"
            class="icon-button tool-button"
            classList={{ "button-quiet": !props.measuring, "tool-on": props.measuring === true }}
            aria-pressed={props.measuring === true}
            aria-label="Measure"
            title="Drag on the table to measure a distance"
            onClick={() => onMeasure()(!props.measuring)}
          >
            <RulerIcon aria-hidden="true" />
            <span class="tool-label">Measure</span>
          </button>
        )}
      </Show>
      <label
        class="icon-button snap-toggle"
        classList={{ "tool-on": props.snap }}
        title="Snap to grid: tokens land on the grid's cells; hold Alt while dropping for a free drop. Kept in this browser only"
      >
        <input
          type="checkbox"
          class="visually-hidden"
          aria-label="Snap to grid"
          checked={props.snap}
          onChange={(event) => props.onSnap(event.currentTarget.checked)}
        />
        <Magnet aria-hidden="true" />
      </label>
    </fieldset>
  );
}
