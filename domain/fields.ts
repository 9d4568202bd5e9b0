/**
 * Field schemas every entity type is built from: ids, asset hashes, free JSON objects and bounded
 * numbers. Module entity types (modules/) build theirs from the same parts, so an id or a
 * coordinate means the same everywhere.
 */
import { z } from "zod";

/** Client-chosen ids are opaque but tame: they end up in URLs, keys and logs. */
export const idSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "ids are 1-64 characters of [A-Za-z0-9_-]");
export const assetHashSchema = z.string().regex(/^[0-9a-f]{64}$/, "an asset is named by its SHA-256 in lowercase hex");
export const finite = z.number().finite();
export const coordinate = finite.min(-1_000_000).max(1_000_000);
/** Free JSON objects (metadata, stats, flags, payload) where modules keep their own data. */
export const jsonObjectSchema = z.record(z.string().max(200), z.unknown());
export const nameSchema = z.string().trim().min(1).max(200);
