/**
 * The worker's entity registry: the core's types and those of the game modules it runs with
 * (modules/registry.ts), built once when the worker loads and used by the Hono app, the session
 * object, the jobs and the backups. The domain rules receive it as a parameter.
 */
import { createEntityRegistry } from "../domain/registry";
import { modules } from "../modules/registry";

export const registry = createEntityRegistry(modules);
