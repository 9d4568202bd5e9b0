import { createSignal } from "solid-js";
import { artPlacement, type Crop, type ImageSize, stageBox } from "../lib/crop";

/** Natural sizes of images already loaded once, so a token drawn again is framed at once. */
const knownSizes = new Map<string, ImageSize>();

/**
 * Token art framed by its crop (`lib/crop.ts`) in a box of `width`×`height` pixels: the crop's
 * square stage covers the box, centred, and the image sits in the stage where the crop says.
 * Until the image's size is known it shows covering the box, as an uncropped image would.
 */
export function CroppedArt(props: { src: string; crop: Crop | null | undefined; width: number; height: number }) {
  const [loads, setLoads] = createSignal(0);
  const size = () => {
    loads();
    return knownSizes.get(props.src) ?? null;
  };
  const stage = () => stageBox(props.width, props.height);
  const placement = () => {
    const known = size();
    return known && props.crop ? artPlacement(props.crop, known) : null;
  };

  return (
    <span class="art-frame" aria-hidden="true">
      <span
        class="art-stage"
        style={{ left: `${stage().left}px`, top: `${stage().top}px`, width: `${stage().side}px`, height: `${stage().side}px` }}
      >
        <img
          class="token-art"
          classList={{ "token-art-placed": placement() !== null }}
          src={props.src}
          alt=""
          draggable={false}
          decoding="async"
          style={placement() ?? {}}
          data-crop={props.crop ? JSON.stringify(props.crop) : undefined}
          onLoad={(event) => {
            const img = event.currentTarget;
            if (img.naturalWidth > 0 && img.naturalHeight > 0) {
              knownSizes.set(props.src, { width: img.naturalWidth, height: img.naturalHeight });
              setLoads(loads() + 1);
            }
          }}
        />
      </span>
    </span>
  );
}
