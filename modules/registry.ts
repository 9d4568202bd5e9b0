/**
 * The game modules the save system runs with: their entity declarations (see
 * domain/module-api.ts). Adding a module means adding its folder and one line here (and in
 * modules/worker.ts and modules/client.ts for its routes and UI); no core file changes.
 * A module that names another's entity types comes after it.
 */
import type { ModuleDefinition } from "../domain/module-api";
import { conditionsModule } from "./conditions/domain";
import { fogModule } from "./fog/domain";
import { initiativeModule } from "./initiative/domain";

export const modules = [initiativeModule, conditionsModule, fogModule] as const satisfies readonly ModuleDefinition[];
