import { createSignal, onCleanup, onMount, Show } from "solid-js";
import { artPlacement, CROP_STAGE_PX, type Crop, type ImageSize, initialCrop, MAX_ZOOM, panCrop, rescaleCrop, zoomCrop } from "../lib/crop";
import { createSubmitter } from "../lib/submit";
import { ErrorMessage } from "./ErrorMessage";

/** Wheel zoom: one notch (100 units of `deltaY`) zooms by about 16%. */
const WHEEL_ZOOM_RATE = 0.0015;

/**
 * Frames token art: the image in a square stage (the token's circle marked), dragged to pan,
 * zoomed with the wheel (around the pointer), the slider or + and −, moved with the arrow keys.
 * It makes the contract's crop (`lib/crop.ts`); tokens draw the same numbers the same way. The
 * current crop is shown, and handed to `onChange` at every change; with `onSave` the tool has its
 * own Save and Cancel buttons.
 */
export function CropTool(props: {
  src: string;
  /** The crop to start from (re-cropping); a fresh image starts covering the stage. */
  initial: Crop | null;
  label: string;
  onChange?: (crop: Crop) => void;
  onSave?: (crop: Crop) => Promise<unknown>;
  onCancel?: () => void;
}) {
  const [size, setSize] = createSignal<ImageSize | null>(null);
  const [crop, setCropSignal] = createSignal<Crop | null>(null);
  const saving = createSubmitter((value: Crop) => props.onSave?.(value) ?? Promise.resolve());
  let stage: HTMLDivElement | undefined;
  let drag: { px: number; py: number; pointerId: number } | null = null;

  function setCrop(next: Crop) {
    setCropSignal(next);
    props.onChange?.(next);
  }

  function onImageLoad(event: Event & { currentTarget: HTMLImageElement }) {
    const img = event.currentTarget;
    if (!(img.naturalWidth > 0 && img.naturalHeight > 0)) return;
    const known = { width: img.naturalWidth, height: img.naturalHeight };
    setSize(known);
    setCrop(props.initial ? rescaleCrop(props.initial, CROP_STAGE_PX, known) : initialCrop(known));
  }

  /** Stage pixels per CSS pixel (1 unless CSS scales the stage). */
  function stageScale(): number {
    const width = stage?.getBoundingClientRect().width ?? 0;
    return width > 0 ? CROP_STAGE_PX / width : 1;
  }

  function update(change: (current: Crop, known: ImageSize) => Crop) {
    const current = crop();
    const known = size();
    if (current && known) setCrop(change(current, known));
  }

  function onPointerDown(event: PointerEvent & { currentTarget: HTMLDivElement }) {
    if (event.button !== 0 || !crop()) return;
    event.preventDefault();
    event.currentTarget.setPointerCapture?.(event.pointerId);
    event.currentTarget.focus();
    drag = { px: event.clientX, py: event.clientY, pointerId: event.pointerId };
  }

  function onPointerMove(event: PointerEvent) {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const factor = stageScale();
    const dx = (event.clientX - drag.px) * factor;
    const dy = (event.clientY - drag.py) * factor;
    drag = { ...drag, px: event.clientX, py: event.clientY };
    update((c, known) => panCrop(c, dx, dy, known));
  }

  function onWheel(event: WheelEvent) {
    const current = crop();
    if (!current || !stage) return;
    event.preventDefault();
    const rect = stage.getBoundingClientRect();
    const factor = stageScale();
    const focus = {
      x: (event.clientX - rect.left) * factor - CROP_STAGE_PX / 2,
      y: (event.clientY - rect.top) * factor - CROP_STAGE_PX / 2,
    };
    const next = current.scale * Math.exp(-event.deltaY * WHEEL_ZOOM_RATE);
    update((c, known) => zoomCrop(c, next, known, focus));
  }

  function onKeyDown(event: KeyboardEvent) {
    const step = event.shiftKey ? 16 : 4;
    const moves: Record<string, [number, number]> = {
      ArrowLeft: [-step, 0],
      ArrowRight: [step, 0],
      ArrowUp: [0, -step],
      ArrowDown: [0, step],
    };
    const move = moves[event.key];
    if (move) {
      event.preventDefault();
      update((c, known) => panCrop(c, move[0], move[1], known));
    } else if (event.key === "+" || event.key === "=") {
      event.preventDefault();
      update((c, known) => zoomCrop(c, c.scale * 1.1, known));
    } else if (event.key === "-") {
      event.preventDefault();
      update((c, known) => zoomCrop(c, c.scale / 1.1, known));
    }
  }

  // Not `onWheel`: Solid would not make it cancelable here, and the page must not scroll while zooming.
  onMount(() => {
    stage?.addEventListener("wheel", onWheel, { passive: false });
    onCleanup(() => stage?.removeEventListener("wheel", onWheel));
  });

  const placement = () => {
    const current = crop();
    const known = size();
    return current && known ? artPlacement(current, known) : null;
  };

  return (
    <fieldset class="crop-tool">
      <legend class="visually-hidden">{props.label}</legend>
      <div
        ref={stage}
        class="crop-stage"
        classList={{ "crop-ready": placement() !== null }}
        // An application: it handles its own keys (arrows pan, + and − zoom) and pointer drags.
        role="application"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: focusable so its keys work; an application role handles its own input
        tabIndex={0}
        aria-label="Crop area: drag to move the image, scroll to zoom; arrow keys move it, + and − zoom"
        style={{ width: `${CROP_STAGE_PX}px`, height: `${CROP_STAGE_PX}px` }}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={() => {
          drag = null;
        }}
        onPointerCancel={() => {
          drag = null;
        }}
        onKeyDown={onKeyDown}
      >
        <img
          class="crop-image"
          src={props.src}
          alt=""
          draggable={false}
          style={placement() ?? { visibility: "hidden" }}
          onLoad={onImageLoad}
        />
        <span class="crop-mask" aria-hidden="true" />
      </div>
      <Show when={crop()} fallback={<p class="hint">Loading the image…</p>}>
        {(current) => (
          <>
            <label class="crop-zoom">
              Zoom
              <input
                type="range"
                min="1"
                max={String(MAX_ZOOM)}
                step="0.01"
                value={current().scale}
                onInput={(event) => {
                  const value = Number(event.currentTarget.value);
                  update((c, known) => zoomCrop(c, value, known));
                }}
              />
            </label>
            <output class="crop-readout" aria-label="Crop" data-crop={JSON.stringify(current())}>
              Zoom {current().scale.toFixed(2)}× · offset {Math.round(current().translate_x)}, {Math.round(current().translate_y)} px
            </output>
            <div class="button-row">
              <button
                type="button"
                class="button-small button-quiet"
                onClick={() => {
                  const known = size();
                  if (known) setCrop(initialCrop(known));
                }}
              >
                Reset crop
              </button>
              <Show when={props.onSave}>
                <button type="button" class="button-small" disabled={saving.pending()} onClick={() => void saving.run(current())}>
                  Save crop
                </button>
              </Show>
              <Show when={props.onCancel}>
                {(cancel) => (
                  <button type="button" class="button-small button-quiet" onClick={() => cancel()()}>
                    Cancel
                  </button>
                )}
              </Show>
            </div>
          </>
        )}
      </Show>
      <ErrorMessage message={saving.error()} />
    </fieldset>
  );
}
