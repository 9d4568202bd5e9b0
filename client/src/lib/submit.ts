import { createSignal } from "solid-js";
import { describeError } from "./api";

/**
 * State for a form or button that calls the API: `pending()` while it runs (to disable the
 * control), `error()` with a message for the UI when it failed. `run` resolves to the result, or
 * to `undefined` when it failed.
 *
 * By default a call made while another is pending is dropped (a form submitted twice creates one
 * thing). With `{ serial: true }` it waits its turn instead: for queued edits (rename, hide,
 * toggles), where every call is a change the user made and none may be lost.
 */
export function createSubmitter<A extends unknown[], R>(action: (...args: A) => Promise<R>, options: { serial?: boolean } = {}) {
  const [pending, setPending] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  let running = 0;
  let tail: Promise<unknown> = Promise.resolve();

  async function attempt(args: A): Promise<R | undefined> {
    try {
      return await action(...args);
    } catch (cause) {
      setError(describeError(cause));
      return undefined;
    }
  }

  async function run(...args: A): Promise<R | undefined> {
    if (running > 0 && !options.serial) return undefined;
    running += 1;
    setPending(true);
    setError(null);
    const result = tail.then(() => attempt(args));
    tail = result;
    try {
      return await result;
    } finally {
      running -= 1;
      if (running === 0) setPending(false);
    }
  }

  return { pending, error, run, clearError: () => setError(null) };
}
