/** The entity registry the tests pass to the domain rules: the core's types and the game modules', as the worker builds it. */
import { createEntityRegistry } from "../../domain/registry";
import { modules } from "../../modules/registry";

export const registry = createEntityRegistry(modules);
