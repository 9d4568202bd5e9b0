/**
 * What a game module (modules/<name>/client.tsx) adds to the web app, and where the app shows it.
 * The data layer keeps module entities like its own (cache, queue, conflicts, sync) in
 * `view.modules[type][id]`; a module writes them through `sync.create/update/archive` or, for
 * several ops as one action, `sync.submit`; entities its own routes answer with go to
 * `sync.accept`.
 */
import type { Component } from "solid-js";
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

let registered: readonly ClientModuleEntity[] = [];

/**
 * Tells the data layer (api, store, sync) about the modules' entity types. The app's entry
 * (main.tsx) registers them from modules/client.ts before it renders (tests do it in their
 * set-up), so the data layer never imports module UIs itself and runs without a DOM.
 */
export function registerModuleEntities(entities: readonly ClientModuleEntity[]): void {
  registered = entities;
}

export function moduleEntities(): readonly ClientModuleEntity[] {
  return registered;
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
