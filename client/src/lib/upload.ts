/**
 * `POST {S}/assets` with upload progress. `fetch` cannot report the progress of a request body,
 * so this one request goes through XMLHttpRequest; errors become the same `ApiError` as elsewhere.
 */
import { ApiError, getCsrfToken } from "./api";

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
  return new Promise((resolve, reject) => {
    const xhr = new XHR();
    // `kind` in the query too: the server narrows its size limit before reading the body.
    xhr.open("POST", `/api/vtt/sessions/${encodeURIComponent(sessionId)}/assets?kind=${kind}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    const csrf = getCsrfToken();
    if (csrf !== null) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        const asset = (body as { asset?: UploadedAsset } | undefined)?.asset;
        if (asset) {
          onProgress(1);
          resolve(asset);
        } else reject(new ApiError(xhr.status, "bad_response", "The server sent an unreadable answer."));
        return;
      }
      const envelope = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
      if (envelope && typeof envelope.code === "string" && typeof envelope.message === "string") {
        reject(new ApiError(xhr.status, envelope.code as never, envelope.message, envelope.details as Record<string, unknown> | undefined));
      } else reject(new ApiError(xhr.status, "bad_response", `The server answered ${xhr.status}.`));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "network_error", "The server could not be reached. Check your connection and try again.")),
    );
    const form = new FormData();
    form.append("kind", kind);
    form.append("file", file);
    xhr.send(form);
  });
}

/** An `<img src>` for an asset of the session: the app's cookie-authenticated redirect to a signed URL. */
export function assetFileUrl(sessionId: string, hash: string): string {
  return `/api/vtt/sessions/${encodeURIComponent(sessionId)}/assets/${encodeURIComponent(hash)}/file`;
}
