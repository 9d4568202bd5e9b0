import { app } from "./app";
import { runScheduled } from "./scheduled";

export { RelayObject } from "./session/relay-object";
export { SessionObject } from "./session/session-object";
export { UserLimiter } from "./session/user-limiter";

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(env, controller.scheduledTime));
  },
} satisfies ExportedHandler<Env>;
