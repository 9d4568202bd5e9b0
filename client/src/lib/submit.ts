import { createSignal } from "solid-js";
import { describeError } from "./api";

/**
 * State for a form or button that calls the API: `pending()` while it runs (to disable the
 * control), `error()` with a message for the UI when it failed. `run` resolves to the result, or
 * to `undefined` when it failed or another run was still pending.
 */
export function createSubmitter<A extends unknown[], R>(action: (...args: A) => Promise<R>) {
  const [pending, setPending] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);

  async function run(...args: A): Promise<R | undefined> {
    if (pending()) return undefined;
    setPending(true);
    setError(null);
    try {
      return await action(...args);
    } catch (cause) {
      setError(describeError(cause));
      return undefined;
    } finally {
      setPending(false);
    }
  }

  return { pending, error, run, clearError: () => setError(null) };
}
