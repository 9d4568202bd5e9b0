/**
 * The cron trigger and the JOBS queue consumer (worker/jobs/queue.ts) driven from a test: the
 * cron runs with a queue that keeps what it is sent, and the messages are then handed to the
 * worker's `queue` handler as a batch, as the platform would, with the ack/retry outcome returned.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  getQueueResult,
  type QueueResult,
  SELF,
  waitOnExecutionContext,
} from "cloudflare:test";
import worker from "../../worker/index";
import { JOBS_QUEUE, type JobMessage } from "../../worker/jobs/queue";
import { create, ORIGIN, S, TestUser } from "./client";
import { originOf, shardNameOf } from "./shards";

/** A stand-in for the JOBS binding: what was sent, and the size of each `sendBatch`. */
export function captureQueue() {
  const sent: JobMessage[] = [];
  const batches: number[] = [];
  const queue = {
    async send(body: JobMessage) {
      sent.push(body);
      batches.push(1);
    },
    async sendBatch(messages: Iterable<MessageSendRequest<JobMessage>>) {
      const list = [...messages];
      if (list.length > 100) throw new Error("a sendBatch carries at most 100 messages");
      sent.push(...list.map((m) => m.body));
      batches.push(list.length);
    },
  };
  return { queue: queue as unknown as Queue, sent, batches };
}

/** The cron trigger at `at`, its messages kept: what it sent, in order, and its batch sizes. */
export async function cronMessages(at: Date, base: Env = env): Promise<{ sent: JobMessage[]; batches: number[] }> {
  const capture = captureQueue();
  const ctx = createExecutionContext();
  await worker.scheduled(
    createScheduledController({ scheduledTime: at.getTime(), cron: "17 * * * *" }),
    { ...base, JOBS: capture.queue },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { sent: capture.sent, batches: capture.batches };
}

let nextId = 0;

/**
 * Hands `bodies` to the worker's queue handler as one batch of `queue`: the ack/retry outcome,
 * the message ids, and each `retry()` with its delay (the outcome does not keep delays).
 */
export async function deliver(
  bodies: unknown[],
  options: { env?: Env; attempts?: number; queue?: string } = {},
): Promise<{ result: QueueResult; ids: string[]; retries: { id: string; delaySeconds: number | undefined }[] }> {
  const messages = bodies.map((body) => ({ id: `msg-${++nextId}`, timestamp: new Date(), attempts: options.attempts ?? 1, body }));
  const batch = createMessageBatch(options.queue ?? JOBS_QUEUE, messages);
  const retries: { id: string; delaySeconds: number | undefined }[] = [];
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    Object.defineProperty(message, "retry", {
      value: (options?: QueueRetryOptions) => {
        retries.push({ id: message.id, delaySeconds: options?.delaySeconds });
        retry(options);
      },
    });
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, options.env ?? env);
  return { result: await getQueueResult(batch, ctx), ids: messages.map((m) => m.id), retries };
}

/**
 * What an hourly run amounts to: the cron at `at`, then every message it sent consumed. Fails
 * when a job asked to be retried, so a test never passes on a job that did not run.
 */
export async function runCron(at: Date): Promise<JobMessage[]> {
  const { sent } = await cronMessages(at);
  if (sent.length === 0) return sent;
  const { result, ids } = await deliver(sent);
  if (result.retryMessages.length > 0 || result.retryBatch.retry) throw new Error(`jobs asked for a retry: ${JSON.stringify(result)}`);
  if (result.explicitAcks.length !== ids.length) throw new Error(`jobs not all acked: ${JSON.stringify(result)}`);
  return sent;
}

/**
 * A GM's new session on the shard `shard` (DB_SHARD_1, ...), placed there as the service places
 * it: created by a request from the shard's region. A scene and a token give its log rows.
 */
export async function tableOn(shard: string) {
  const cf = originOf(shard);
  const gm = await TestUser.register("gm");
  const res = await SELF.fetch(`${ORIGIN}/api/vtt/sessions`, {
    method: "POST",
    headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, "content-type": "application/json" },
    body: JSON.stringify({ name: `Table on ${shard}` }),
    cf,
  });
  const body = (await res.json()) as { session: { id: string }; invite_code: string };
  if (res.status !== 201) throw new Error(`session create failed: ${res.status} ${JSON.stringify(body)}`);
  const sid = body.session.id;
  const placed = await shardNameOf(sid);
  if (placed !== shard) throw new Error(`the session went to ${placed}, not ${shard}`);
  const base = S(sid);
  const scene = await create(gm, base, "scenes", { name: "Crypt" });
  const token = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.id });
  return { gm, sid, base, scene, token, inviteCode: body.invite_code };
}

/** `db` with every statement it is asked to prepare written down in `log`. */
export function recordingD1(db: D1Database, log: string[]): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") {
        return (query: string) => {
          log.push(query);
          return target.prepare(query);
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
