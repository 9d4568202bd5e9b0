/**
 * The cap on sockets one user may hold open in one session (docs/realtime.md, "Limits"): each tab
 * or device is a socket, and a script opening sockets in a loop would otherwise grow the object's
 * fan-out without bound. Past the cap the upgrade is refused with 429 and the sockets already open
 * stay as they are.
 */
import { errorBody } from "../../domain/errors";
import { positiveSetting } from "../middleware/rate-limit";

export const DEFAULT_SOCKETS_PER_USER = 20;
/** Seconds a refused client is told to wait: a socket of its own closing frees a place. */
const SOCKET_CAP_RETRY_SECONDS = 10;

/** [vars] SOCKETS_PER_USER_PER_SESSION, else the default. */
export function socketsPerUser(env: Env): number {
  return positiveSetting(env, "SOCKETS_PER_USER_PER_SESSION", DEFAULT_SOCKETS_PER_USER);
}

/** The refusal: the contract's envelope with 429 and Retry-After. */
export function tooManySockets(limit: number): Response {
  const body = errorBody({
    code: "rate_limited",
    message: `at most ${limit} open sockets per user in a session: close one first`,
    details: { reason: "too_many_sockets", limit, retry_after_ms: SOCKET_CAP_RETRY_SECONDS * 1000 },
  });
  return Response.json(body, { status: 429, headers: { "Retry-After": String(SOCKET_CAP_RETRY_SECONDS) } });
}
