/**
 * Where the game modules of the session's sync layer (`sync.modules`, built by main.tsx from
 * modules/client.ts) appear on the table: their panels beside the map,
 * their overlays on it, their HUDs floating over its top right corner, their tools in the GM's floating tool bar and their items in a token's
 * menu. A module that fails to render shows a short notice instead of taking the table down with it.
 */
import { ErrorBoundary, For, Show } from "solid-js";
import type { CanvasOverlayProps, ClientModuleRegistry, ModuleUiProps, TokenMenuProps } from "../lib/modules";

function Broken(props: { name: string; error: unknown }) {
  return (
    <p class="module-error" role="alert">
      The {props.name} module could not be shown: {props.error instanceof Error ? props.error.message : String(props.error)}
    </p>
  );
}

/** The GM panel's tabs the modules' panels ask for (`panelPlace`), in the modules' order: one per module. */
export function modulePanelTabs(registry: ClientModuleRegistry): { id: string; label: string; module: string }[] {
  return registry.modules.flatMap((m) => {
    if (!m.Panel || m.panelPlace === "token") return [];
    const label = m.panelPlace?.tab ?? `${m.name.charAt(0).toUpperCase()}${m.name.slice(1)}`;
    return [{ id: `module-${m.name}`, label, module: m.name }];
  });
}

/** The modules' panels: all of them (a player's dock), or those named in `only`, or those placed in the Token tab (`place: "token"`). */
export function ModulePanels(props: ModuleUiProps & { only?: string; place?: "token" }) {
  const shown = () =>
    props.sync.modules.modules.filter(
      (m) => m.Panel && (props.only !== undefined ? m.name === props.only : props.place === "token" ? m.panelPlace === "token" : true),
    );
  return (
    <For each={shown()}>
      {(module) => (
        <section class="module-panel" data-module={module.name}>
          <ErrorBoundary fallback={(error) => <Broken name={module.name} error={error} />}>
            <Show when={module.Panel}>{(Panel) => Panel()(props)}</Show>
          </ErrorBoundary>
        </section>
      )}
    </For>
  );
}

export function ModuleOverlays(props: CanvasOverlayProps) {
  return (
    <For each={props.sync.modules.modules.filter((m) => m.CanvasOverlay)}>
      {(module) => (
        <ErrorBoundary fallback={(error) => <Broken name={module.name} error={error} />}>
          <Show when={module.CanvasOverlay}>{(Overlay) => Overlay()(props)}</Show>
        </ErrorBoundary>
      )}
    </For>
  );
}

export function ModuleHuds(props: ModuleUiProps) {
  return (
    <For each={props.sync.modules.modules.filter((m) => m.TableHud)}>
      {(module) => (
        <ErrorBoundary fallback={(error) => <Broken name={module.name} error={error} />}>
          <Show when={module.TableHud}>{(Hud) => Hud()(props)}</Show>
        </ErrorBoundary>
      )}
    </For>
  );
}

export function ModuleTools(props: ModuleUiProps) {
  return (
    <For each={props.sync.modules.modules.filter((m) => m.Tools)}>
      {(module) => (
        <div class="module-tools" data-module={module.name}>
          <ErrorBoundary fallback={(error) => <Broken name={module.name} error={error} />}>
            <Show when={module.Tools}>{(Tools) => Tools()(props)}</Show>
          </ErrorBoundary>
        </div>
      )}
    </For>
  );
}

/** The modules' items of a token's menu. */
export function ModuleTokenMenuItems(props: TokenMenuProps) {
  return (
    <For each={props.sync.modules.modules.filter((m) => m.TokenMenuItems)}>
      {(module) => (
        <ErrorBoundary fallback={(error) => <Broken name={module.name} error={error} />}>
          <Show when={module.TokenMenuItems}>{(Items) => Items()(props)}</Show>
        </ErrorBoundary>
      )}
    </For>
  );
}
