/** The closed set of error codes of the contract, and the one place they map to HTTP status. */
export const errorStatus = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  csrf: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  locked: 423,
  precondition_required: 428,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** An expected failure, returned as a value across the RPC boundary (never thrown there). */
export interface Failure {
  ok: false;
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): Failure {
  return details === undefined ? { ok: false, code, message } : { ok: false, code, message, details };
}

export function errorBody(f: { code: ErrorCode; message: string; details?: Record<string, unknown> | undefined }): ErrorBody {
  return {
    error: f.details === undefined ? { code: f.code, message: f.message } : { code: f.code, message: f.message, details: f.details },
  };
}
