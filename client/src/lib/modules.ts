/**
 * What a game module (modules/<name>/client.tsx) adds to the web app, and where the app shows it.
 * The data layer keeps module entities like its own (cache, queue, conflicts, sync) in
 * `view.modules[type][id]`; a module writes them through `sync.create/update/archive` or, for
 * several ops as one action, `sync.submit`; entities its own routes answer with go to
 * `sync.accept`.
 */
import { type Component, createContext, useContext } from "solid-js";
import type { SessionSync } from "./sync";
import type { Scene, Token } from "./types";

export interface ClientModuleEntity {
  /** The `entity_type`, as the module's domain declaration names it. */
  type: string;
  /** Its URL segment under `{S}/`. */
  path: string;
  /**
   * The field naming the scene the entity lives on, when the module declares it `via: "scene"`:
   * the state then holds only the active scene's, and a reload keeps those of other scenes.
   */
  sceneField?: string;
}

/**
 * The game modules the app runs with, and what the data layer needs of their entity types. Built
 * once at the app's composition root (main.tsx, from modules/client.ts's list; tests build their
 * own) and passed in: to the sync layer (`startSync`, which carries it as `sync.modules` to the
 * table and its module slots), the API clients (`createSessionApi`, `createGmApi`,
 * `createHistoryApi`) and the reducers that keep scene-bound entities (`applyState`,
 * `applySceneModuleEntities`). The data layer never imports module UIs and runs without a DOM.
 */
export interface ClientModuleRegistry {
  /** The modules, in the list's order (the order of their panels, overlays and tools). */
  readonly modules: readonly ClientModule[];
  /** Their entity types, in the same order. */
  readonly entities: readonly ClientModuleEntity[];
  /** Module types that live on a scene: type → the field naming it. */
  readonly sceneFields: ReadonlyMap<string, string>;
  /** The URL segment of a module type; undefined for a type no module declares. */
  pathOf(type: string): string | undefined;
}

/** The registry of `modules`. Throws when two modules declare the same type or URL path (a start-up error). */
export function createClientModuleRegistry(modules: readonly ClientModule[]): ClientModuleRegistry {
  const entities = modules.flatMap((m) => m.entities);
  const paths = new Map<string, string>();
  const usedPaths = new Set<string>();
  for (const e of entities) {
    if (paths.has(e.type) || usedPaths.has(e.path)) throw new Error(`module entity type ${e.type} or its path ${e.path} is declared twice`);
    paths.set(e.type, e.path);
    usedPaths.add(e.path);
  }
  const sceneFields = new Map(entities.flatMap((e) => (e.sceneField ? [[e.type, e.sceneField] as const] : [])));
  return { modules, entities, sceneFields, pathOf: (type) => paths.get(type) };
}

const ClientModulesContext = createContext<ClientModuleRegistry>();

/** Gives the pages under it the app's module registry (main.tsx provides it around the app). */
export const ClientModulesProvider = ClientModulesContext.Provider;

/** The module registry provided above (`ClientModulesProvider`); throws when none is. */
export function useClientModules(): ClientModuleRegistry {
  const registry = useContext(ClientModulesContext);
  if (registry === undefined) throw new Error("no module registry: render the app inside ClientModulesProvider");
  return registry;
}

export interface ModuleUiProps {
  sessionId: string;
  userId: string;
  sync: SessionSync;
  isGm: boolean;
  /** The scene on the table (the active one, or the one a GM prepares). */
  scene: Scene | undefined;
  selectedTokenId: string | null;
}

export interface CanvasOverlayProps extends ModuleUiProps {
  scene: Scene;
  /** Pixels per grid cell on the canvas (token x/y are in these pixels, from the map's top left). */
  cellPx: number;
  /** The tokens drawn on the canvas (hidden ones only for GMs who chose to see them). */
  tokens: readonly Token[];
}

export interface TokenMenuProps extends ModuleUiProps {
  /** The token whose menu is open. */
  token: Token;
  /** Closes the menu (after an item did its work). */
  close: () => void;
}

export interface ClientModule {
  name: string;
  entities: readonly ClientModuleEntity[];
  /** A panel beside the table (GMs and players; the module decides what each sees). */
  Panel?: Component<ModuleUiProps>;
  /**
   * Where a GM finds the panel: a tab of its own in the GM panel, named `{ tab }` (the module's
   * name when not given), or `"token"`: in the Token tab, under the selected token's inspector
   * (a panel about the selected token). Players see every panel in the dock over the table.
   */
  panelPlace?: "token" | { tab: string };
  /** Drawn over the map and tokens, in scene pixels. */
  CanvasOverlay?: Component<CanvasOverlayProps>;
  /** Floats over the table's top right corner, in screen pixels (stays put while the map moves). */
  TableHud?: Component<ModuleUiProps>;
  /**
   * Tools in the table's floating tool bar (GMs only: the bar is the GM's), after the drawing
   * tools: buttons with `aria-pressed` for tools the pointer uses, small popovers for options.
   */
  Tools?: Component<ModuleUiProps>;
  /**
   * Items of a token's menu (right-click or long press on a token): elements with a `menuitem`,
   * `menuitemcheckbox` or `menuitemradio` role, grouped under a `group` named after the module.
   */
  TokenMenuItems?: Component<TokenMenuProps>;
}
