/** One JSON error line in the format of the request logs (README "Operations"), with the error's stack when it has one. */
export function logError(msg: string, error: unknown): void {
  console.error(JSON.stringify({ level: "error", msg, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
}
