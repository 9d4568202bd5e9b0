/**
 * The routes of the game modules, mounted by the worker under `{S}/modules/<name>` behind the
 * session membership check. A module without routes needs no line here.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../worker/types";
import { expiringConditions } from "./conditions/worker";
import { initiativeRoutes, onNewRound } from "./initiative/worker";

export interface ModuleRoutes {
  name: string;
  routes: Hono<AppEnv>;
}

export const moduleRoutes: readonly ModuleRoutes[] = [{ name: "initiative", routes: initiativeRoutes }];

// Conditions have no routes of their own: they expire on the initiative's new rounds.
onNewRound(expiringConditions);
