/**
 * Load shapes for the scenarios, every one bounded both in count and in time.
 * A step is `async (loop, i) => ms?` that throws on an unexpected answer. Its sample is the number
 * it returns (e.g. a request's own send-to-last-byte time, which leaves out JSON parsing), else
 * the step's wall time. Errors are counted per loop (a loop stops after `maxErrors` of them), and the first one
 * is kept whole for the report.
 */
import { performance } from "node:perf_hooks";

function newErrors() {
  return { count: 0, byStatus: {}, first: null };
}

function recordError(errors, err) {
  errors.count += 1;
  const key = err.response?.status ?? "no response";
  errors.byStatus[key] = (errors.byStatus[key] ?? 0) + 1;
  errors.first ??= err;
}

/**
 * `concurrency` loops started together, each running `step` until it has done `maxPerLoop`
 * steps or `durationMs` has passed since the start. With `warmupMs`, every loop first runs
 * unmeasured steps for that long (connections opened, code paths warm) and then all start the
 * measured phase together. Warm-up errors are counted like the others.
 * Returns { latencies, count, wallMs, perLoop, errors }.
 */
export async function runLoops({
  concurrency = 1,
  maxPerLoop = Number.POSITIVE_INFINITY,
  durationMs = 10_000,
  warmupMs = 0,
  maxErrors = 20,
  step,
}) {
  const errors = newErrors();
  const indexes = new Array(concurrency).fill(0);

  if (warmupMs > 0) {
    const warmEnd = performance.now() + warmupMs;
    let successes = 0;
    await Promise.all(
      indexes.map(async (_, loop) => {
        let failures = 0;
        while (performance.now() < warmEnd && failures < maxErrors) {
          try {
            await step(loop, indexes[loop]++);
            successes += 1;
          } catch (err) {
            failures += 1;
            recordError(errors, err);
          }
        }
      }),
    );
    // Nothing works: no point measuring. Some errors: measure anyway, they stay in the count.
    if (successes === 0) return { latencies: [], count: 0, wallMs: 0, perLoop: [], errors };
  }

  const latencies = [];
  const perLoop = new Array(concurrency).fill(0);
  const start = performance.now();
  const deadline = start + durationMs;
  await Promise.all(
    indexes.map(async (_, loop) => {
      let failures = 0;
      while (perLoop[loop] < maxPerLoop && performance.now() < deadline && failures < maxErrors) {
        const t0 = performance.now();
        try {
          const ms = await step(loop, indexes[loop]++);
          latencies.push(typeof ms === "number" && Number.isFinite(ms) ? ms : performance.now() - t0);
          perLoop[loop] += 1;
        } catch (err) {
          failures += 1;
          recordError(errors, err);
        }
      }
    }),
  );
  const wallMs = performance.now() - start;
  return { latencies, count: latencies.length, wallMs, perLoop, errors };
}

/** One loop: `count` sequential steps at most, for `durationMs` at most, after `warmup` unmeasured ones. */
export async function runSequential({ count, durationMs = 15_000, warmup = 0, step, maxErrors = 5 }) {
  const warm = newErrors();
  let successes = 0;
  for (let i = 0; i < warmup && warm.count < maxErrors; i++) {
    try {
      await step(-1 - i); // negative indexes: warm-up steps
      successes += 1;
    } catch (err) {
      recordError(warm, err);
    }
  }
  if (warmup > 0 && successes === 0) return { latencies: [], count: 0, wallMs: 0, perLoop: [], errors: warm };
  const run = await runLoops({ concurrency: 1, maxPerLoop: count, durationMs, maxErrors, step: (_, i) => step(i) });
  const errors = run.errors;
  if (warm.count > 0) {
    errors.count += warm.count;
    for (const [k, v] of Object.entries(warm.byStatus)) errors.byStatus[k] = (errors.byStatus[k] ?? 0) + v;
    errors.first = warm.first;
  }
  return { ...run, errors };
}
