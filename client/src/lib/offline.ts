/**
 * The service worker that keeps the app shell on this device (built by vite-plugin-pwa into
 * `sw.js`, see vite.config.ts): registered once per page load in production builds.
 *
 * Its lifecycle, as the page sees it:
 * - first install on this browser: it precaches the shell and takes control of the page at once
 *   (`clientsClaim`): `onOfflineReady`, the app now opens with no network;
 * - a new build deployed: the new worker installs beside the old one and waits, so an open table
 *   is never reloaded under the GM's hands: `onUpdateReady(apply)`. `apply` tells the waiting
 *   worker to take over (`SKIP_WAITING`, which Workbox's generated worker listens for) and reloads
 *   once it controls the page. Unsent edits are in IndexedDB, so the reload loses nothing.
 *
 * The browser checks for a new `sw.js` on every navigation; a table can stay open for hours, so
 * the page also asks when it becomes visible again.
 */

export interface ServiceWorkerEvents {
  onOfflineReady(): void;
  onUpdateReady(apply: () => void): void;
}

export interface ServiceWorkerDeps {
  /** `navigator.serviceWorker`; absent (old browsers, plain http on another host, tests): nothing happens. */
  container?: ServiceWorkerContainer | undefined;
  url?: string;
  reload?: () => void;
  /** Subscribes to "the page is visible again"; defaults to the document's `visibilitychange`. */
  onVisible?: (callback: () => void) => void;
}

export const SERVICE_WORKER_URL = "/sw.js";

export async function registerServiceWorker(
  events: ServiceWorkerEvents,
  deps: ServiceWorkerDeps = {},
): Promise<ServiceWorkerRegistration | null> {
  const container = "container" in deps ? deps.container : globalThis.navigator?.serviceWorker;
  if (!container) return null;
  const reload = deps.reload ?? (() => location.reload());

  // `updateViaCache: "none"`: the check for a new sw.js never trusts the HTTP cache.
  const registration = await container.register(deps.url ?? SERVICE_WORKER_URL, { scope: "/", updateViaCache: "none" });

  let applying = false;
  const apply = () => {
    const waiting = registration.waiting;
    if (!waiting || applying) return;
    applying = true;
    container.addEventListener("controllerchange", () => reload(), { once: true });
    waiting.postMessage({ type: "SKIP_WAITING" });
  };

  const watch = (worker: ServiceWorker) => {
    const onState = () => {
      if (worker.state !== "installed") return;
      worker.removeEventListener("statechange", onState);
      // A controller means an older version runs this page: this one is an update.
      if (container.controller) events.onUpdateReady(apply);
      else events.onOfflineReady();
    };
    worker.addEventListener("statechange", onState);
    onState();
  };

  // An update found by an earlier page load may already be waiting.
  if (registration.waiting && container.controller) events.onUpdateReady(apply);
  else if (registration.installing) watch(registration.installing);
  registration.addEventListener("updatefound", () => {
    if (registration.installing) watch(registration.installing);
  });

  const onVisible = deps.onVisible ?? defaultOnVisible;
  onVisible(() => {
    registration.update().catch(() => undefined);
  });
  return registration;
}

function defaultOnVisible(callback: () => void): void {
  if (typeof document === "undefined") return;
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && navigator.onLine) callback();
  });
}
