/** The JSON lines a `console` spy saw (the worker logs one JSON object a line), parsed; other lines skipped. */
export function jsonLines(spy: { mock: { calls: unknown[][] } }): Record<string, any>[] {
  return spy.mock.calls
    .map((args) => {
      try {
        return JSON.parse(String(args[0]));
      } catch {
        return null;
      }
    })
    .filter((l): l is Record<string, any> => l !== null && typeof l === "object");
}

/** The `event` lines named `name` (worker/metrics/recorder.ts `recordEvent`). */
export function eventLines(spy: { mock: { calls: unknown[][] } }, name: string): Record<string, any>[] {
  return jsonLines(spy).filter((l) => l.msg === "event" && l.event === name);
}
