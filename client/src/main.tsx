import { createSignal } from "solid-js";
import { render } from "solid-js/web";
import { clientModules } from "../../modules/client";
import { App } from "./App";
import { OfflineNotice } from "./components/OfflineNotice";
import { loadCurrentUser } from "./lib/auth";
import { ClientModulesProvider, createClientModuleRegistry } from "./lib/modules";
import { registerServiceWorker } from "./lib/offline";
import "./styles.css";

// The app's composition root: the game modules' registry is built here, once, from modules/client.ts's
// list (as worker/registry.ts builds the worker's from modules/registry.ts), and passed down: pages
// get it from the provider, the sync layer and API clients as an argument, the table from its sync.
const modules = createClientModuleRegistry(clientModules);

const root = document.getElementById("root");
if (root === null) throw new Error("index.html has no #root element");

// Signed-in state comes from the cookie; pages render meanwhile and wait on `user()`.
loadCurrentUser().catch((error: unknown) => console.error("could not restore the signed-in user", error));

/** How long "the app now opens offline" stays up. */
const OFFLINE_READY_NOTICE_MS = 6000;
const [offlineReady, setOfflineReady] = createSignal(false);
const [applyUpdate, setApplyUpdate] = createSignal<(() => void) | null>(null);

render(
  () => (
    <>
      <ClientModulesProvider value={modules}>
        <App />
      </ClientModulesProvider>
      <OfflineNotice
        offlineReady={offlineReady()}
        onReload={applyUpdate()}
        onDismiss={() => {
          setOfflineReady(false);
          setApplyUpdate(null);
        }}
      />
    </>
  ),
  root,
);

// Production builds only: the dev server has no sw.js, and a worker caching its modules would get in the way.
if (import.meta.env.PROD) {
  registerServiceWorker({
    onOfflineReady() {
      setOfflineReady(true);
      setTimeout(() => setOfflineReady(false), OFFLINE_READY_NOTICE_MS);
    },
    onUpdateReady: (apply) => setApplyUpdate(() => apply),
  }).catch((error: unknown) => console.error("could not register the service worker", error));
}
