import { type ErrorCode, errorStatus, type Failure } from "../domain/errors";

/** The one error type route handlers throw; `onError` renders it as the contract's envelope. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, headers?: Record<string, string>) {
    super(message);
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  get status(): (typeof errorStatus)[ErrorCode] {
    return errorStatus[this.code];
  }

  static from(failure: Failure, headers?: Record<string, string>): ApiError {
    return new ApiError(failure.code, failure.message, failure.details, headers);
  }
}
