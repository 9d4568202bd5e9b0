import { createSignal, Show } from "solid-js";
import { describeError } from "../lib/api";
import { type AssetKind, type UploadedAsset, uploadAsset } from "../lib/upload";
import { ErrorMessage } from "./ErrorMessage";

/** A file input that uploads at once (`POST {S}/assets`), with a progress bar, then hands the asset on. */
export function AssetUploadField(props: {
  sessionId: string;
  kind: AssetKind;
  label: string;
  inputId: string;
  onUploaded: (asset: UploadedAsset) => unknown;
}) {
  const [progress, setProgress] = createSignal<number | null>(null);
  const [error, setError] = createSignal<string | null>(null);

  async function onChange(event: Event & { currentTarget: HTMLInputElement }) {
    const input = event.currentTarget;
    const file = input.files?.[0];
    if (!file) return;
    setError(null);
    setProgress(0);
    try {
      const asset = await uploadAsset(props.sessionId, file, props.kind, setProgress);
      await props.onUploaded(asset);
    } catch (cause) {
      setError(describeError(cause));
    } finally {
      setProgress(null);
      input.value = "";
    }
  }

  return (
    <div class="field upload-field">
      <label for={props.inputId}>{props.label}</label>
      <input
        id={props.inputId}
        type="file"
        accept="image/png,image/jpeg,image/webp,image/gif"
        disabled={progress() !== null}
        onChange={onChange}
      />
      <Show when={progress()}>
        {(fraction) => (
          <progress class="upload-progress" max="1" value={fraction()} aria-label={`${props.label}: uploading`}>
            {Math.round(fraction() * 100)}%
          </progress>
        )}
      </Show>
      <Show when={progress() === 0}>
        <progress class="upload-progress" aria-label={`${props.label}: uploading`} />
      </Show>
      <ErrorMessage message={error()} />
    </div>
  );
}
