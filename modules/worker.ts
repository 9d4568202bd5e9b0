/**
 * The routes of the game modules, mounted by the worker under `{S}/modules/<name>` behind the
 * session membership check. A module without routes needs no line here.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../worker/types";
import { initiativeRoutes } from "./initiative/worker";
// No routes of its own: loaded for its round hook (expiring conditions), after initiative.
import "./conditions/worker";

export interface ModuleRoutes {
  name: string;
  routes: Hono<AppEnv>;
}

export const moduleRoutes: readonly ModuleRoutes[] = [{ name: "initiative", routes: initiativeRoutes }];
