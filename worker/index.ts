import { app } from "./app";
import { handleQueue } from "./jobs/queue";
import { runScheduled } from "./scheduled";

export { RelayObject } from "./session/relay-object";
export { SessionObject } from "./session/session-object";
export { UserLimiter } from "./session/user-limiter";

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduled(env, controller.scheduledTime));
  },
  /** One session's background job per message (worker/jobs/queue.ts). */
  async queue(batch, env) {
    await handleQueue(batch, env);
  },
} satisfies ExportedHandler<Env>;
