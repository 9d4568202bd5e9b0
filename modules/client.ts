/**
 * The web app parts of the game modules: their entity types (for the data layer) and their UI
 * (a sidebar panel, a canvas overlay, token badges; see client/src/lib/modules.ts).
 */
import type { ClientModule } from "../client/src/lib/modules";
import { conditionsClient } from "./conditions/client";
import { fogClientModule } from "./fog/client";
import { initiativeClient } from "./initiative/client";

export const clientModules: readonly ClientModule[] = [initiativeClient, conditionsClient, fogClientModule];
