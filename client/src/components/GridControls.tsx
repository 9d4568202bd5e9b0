import { Show } from "solid-js";
import "./grid.css";

/**
 * Grid controls over the table for everyone: whether drops snap to the grid (hold Alt for one
 * free drop), and, for those without the GM's tool bar, the ruler.
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
      <label class="toggle" title="Tokens land on the grid's cells; hold Alt while dropping for a free drop">
        <input type="checkbox" checked={props.snap} onChange={(event) => props.onSnap(event.currentTarget.checked)} /> Snap to grid
      </label>
      <Show when={props.onMeasure}>
        {(onMeasure) => (
          <button
            type="button"
            class="button-small tool-button"
            classList={{ "button-quiet": !props.measuring }}
            aria-pressed={props.measuring === true}
            title="Drag on the table to measure a distance"
            onClick={() => onMeasure()(!props.measuring)}
          >
            Measure
          </button>
        )}
      </Show>
    </fieldset>
  );
}
