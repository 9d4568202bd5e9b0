/**
 * Small statistics over latency samples (milliseconds from performance.now()).
 * Percentiles are read from a sorted copy with linear interpolation between closest ranks,
 * so p50 of [1, 2, 3, 4] is 2.5 and p100 is the maximum.
 */

/** A sorted copy, ascending; the input is left as it is. */
export function sorted(samples) {
  return Float64Array.from(samples).sort();
}

/** The p-th percentile (0..100) of an ascending array; NaN when empty. */
export function percentile(ascending, p) {
  const n = ascending.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return ascending[0];
  const rank = (Math.min(Math.max(p, 0), 100) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return ascending[lo] + (ascending[hi] - ascending[lo]) * (rank - lo);
}

export function median(samples) {
  return percentile(sorted(samples), 50);
}

/** Count, min, mean, p50, p90, p99, max of a list of samples. */
export function summarize(samples) {
  const s = sorted(samples);
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    min: s.length ? s[0] : Number.NaN,
    mean: s.length ? sum / s.length : Number.NaN,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1] : Number.NaN,
  };
}

/** Requests per second for `count` requests completed in `ms` milliseconds of wall time. */
export function rate(count, ms) {
  return ms > 0 ? (count * 1000) / ms : Number.NaN;
}

/** a / b, or NaN when either is missing. */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN;
}

/** Number formatting for the tables. */
export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return "—";
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}
export function fmtRate(perSecond, unit = "req/s") {
  return Number.isFinite(perSecond) ? `${perSecond.toFixed(perSecond >= 100 ? 0 : 1)} ${unit}` : "—";
}
export function fmtRatio(x) {
  if (!Number.isFinite(x)) return "—";
  return x >= 0.1 ? `${x.toFixed(2)}×` : `${x.toPrecision(2)}×`;
}
export function fmtBytes(n) {
  if (!Number.isFinite(n)) return "—";
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
