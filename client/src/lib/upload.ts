/**
 * `POST {S}/assets` with upload progress. `fetch` cannot report the progress of a request body,
 * so this one request goes through `postWithProgress` (XMLHttpRequest); errors become the same
 * `ApiError` as elsewhere.
 */
import { postWithProgress } from "./api";

export interface UploadedAsset {
  hash: string;
  mime: string;
  size: number;
  width: number | null;
  height: number | null;
  url: string;
}

export type AssetKind = "map" | "token";

export function uploadAsset(
  sessionId: string,
  file: File,
  kind: AssetKind,
  onProgress: (fraction: number) => void,
  XHR: typeof XMLHttpRequest = XMLHttpRequest,
): Promise<UploadedAsset> {
  const form = new FormData();
  form.append("kind", kind);
  form.append("file", file);
  return postWithProgress(
    // `kind` in the query too: the server narrows its size limit before reading the body.
    `/api/vtt/sessions/${encodeURIComponent(sessionId)}/assets?kind=${kind}`,
    form,
    {},
    onProgress,
    (answer) => (answer as { asset?: UploadedAsset } | undefined)?.asset || undefined,
    XHR,
  );
}

/** An `<img src>` for an asset of the session: the app's cookie-authenticated redirect to a signed URL. */
export function assetFileUrl(sessionId: string, hash: string): string {
  return `/api/vtt/sessions/${encodeURIComponent(sessionId)}/assets/${encodeURIComponent(hash)}/file`;
}
