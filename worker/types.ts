import type { Role } from "../domain/permissions";
import type { ShardReader } from "./db/replicas";

export interface AuthedUser {
  id: string;
  username: string;
}

export interface Membership {
  sessionId: string;
  role: Role;
  /** The database holding the session's rows (worker/db/shards.ts). */
  shard: string;
  /** The session's seq and retained-log floor on its shard (read once, when first asked). */
  head: () => Promise<{ seq: number; logFloor: number } | null>;
  /** GET requests: the request's reads of the shard, on a replica consistent with the client's bookmark (db/replicas.ts). */
  reader?: () => ShardReader;
}

/** Per-request values set by middleware. */
export interface AppVariables {
  requestId: string;
  user: AuthedUser;
  /** How the request authenticated: cookie logins need a CSRF token on mutations. */
  authKind: "cookie" | "bearer";
  /** The cookie login's id (hash), for logout. */
  loginId: string | undefined;
  csrfToken: string | undefined;
  /** The login or API token the request came with (its id), and when it stops working. */
  credential: { id: string; expiresAt: string | null };
  member: Membership;
  /** Extra fields for the request's log line (entity, version, ...). */
  log: Record<string, unknown>;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
