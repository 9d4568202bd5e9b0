/** Request and response bodies of the HTTP API that are not entities. */
import { z } from "zod";
import { idSchema } from "./entities";
import { roles } from "./permissions";

export const usernameSchema = z.string().regex(/^[a-z0-9_-]{3,32}$/, "3-32 characters of a-z, 0-9, _ and -");
export const passwordSchema = z.string().min(10, "at least 10 characters").max(1024);

export const credentialsSchema = z.strictObject({ username: usernameSchema, password: passwordSchema });
/** Login does not reveal the registration rules: any strings, the same 401 for every mismatch. */
export const loginSchema = z.strictObject({ username: z.string().max(64), password: z.string().max(1024) });
export const apiTokenCreateSchema = z.strictObject({ name: z.string().trim().min(1).max(100) });

export const sessionCreateSchema = z.strictObject({ name: z.string().trim().min(1).max(200) });
export const joinSchema = z.strictObject({ invite_code: z.string().min(1).max(64) });
export const memberSchema = z.strictObject({ role: z.enum(roles) });
export const userIdSchema = idSchema;

export const ackSchema = z.strictObject({ event_ids: z.array(z.number().int().min(1)).min(1).max(1000) });

export interface User {
  id: string;
  username: string;
}

export interface GameSession {
  id: string;
  name: string;
  created_at: string;
}
