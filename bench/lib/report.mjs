/**
 * The Markdown report of a run: machine, one table row per measure, details, and any failure
 * with its exact request and response.
 */
import { cpus, platform, release, totalmem } from "node:os";

export function machineInfo(extra = {}) {
  const cpu = cpus();
  return {
    cpu_model: cpu[0]?.model?.trim() ?? "unknown",
    cpu_count: cpu.length,
    total_memory_gib: Number((totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    os: `${platform()} ${release()}`,
    ...extra,
  };
}

const cell = (v) =>
  String(v ?? "—")
    .replaceAll("|", "\\|")
    .replaceAll("\n", " ");

function fence(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return ["```", text, "```"].join("\n");
}

/**
 * `results`: [{ suite, id, title, rows?, details?, failures?, error? }].
 */
export function renderMarkdown({ startedAt, durationMs, machine, server, notes, results }) {
  const out = [];
  out.push(`# Benchmark results (${startedAt})`, "");
  out.push(
    `Machine: ${machine.cpu_model}, ${machine.cpu_count} CPUs, ${machine.total_memory_gib} GiB RAM, ` +
      `node ${machine.node}, ${machine.os}; wrangler ${machine.wrangler ?? "?"}.`,
    `Server: ${server}. The load generator and the server share the machine's CPUs` +
      (machine.load_average_1m
        ? ` (1-min load average ${machine.load_average_1m.before} before the run, ${machine.load_average_1m.after} after: ` +
          "anything else running skews the figures)."
        : "."),
    `Run took ${(durationMs / 1000).toFixed(1)} s.`,
    "",
    "Slowdown = ours / baseline for latencies, baseline / ours for throughputs: 1× is as fast as the",
    "baseline, 2× twice as slow. Latency = send to last body byte, per request. The baselines are",
    "plain routes (/api/bench/*) that run no auth: ours pays the bearer-token and membership checks too.",
    "",
  );
  out.push("| # | Scenario | Measure | Ours | Baseline | Slowdown | Target | Verdict |");
  out.push("|---|---|---|---|---|---|---|---|");
  for (const r of results) {
    if (r.error) {
      out.push(`| ${r.id} | ${cell(r.title)} | — | ${cell(`failed: ${r.error.message}`)} | — | — | — | ERROR |`);
      continue;
    }
    const failed = (r.failures ?? []).length > 0;
    r.rows.forEach((row, i) => {
      const verdict = failed && i === 0 ? (row.verdict === "—" ? "ERRORS" : `${row.verdict}, ERRORS`) : row.verdict;
      out.push(
        `| ${i === 0 ? r.id : ""} | ${i === 0 ? cell(r.title) : ""} | ${cell(row.measure)} | ${cell(row.ours)} | ` +
          `${cell(row.baseline)} | ${cell(row.slowdown)} | ${cell(row.target)} | ${cell(verdict)} |`,
      );
    });
  }
  out.push("");

  out.push("## Details", "");
  for (const r of results) {
    out.push(`**${r.id}. ${r.title}**`, "");
    for (const line of r.details ?? []) out.push(`- ${line}`);
    if (r.error) out.push(`- failed: ${r.error.message}`);
    out.push("");
  }

  const failures = results.flatMap((r) => [
    ...(r.error ? [{ where: `${r.id}. ${r.title}`, ...r.error }] : []),
    ...(r.failures ?? []).map((f) => ({ where: `${r.id}. ${r.title}: ${f.label}`, ...f })),
  ]);
  if (failures.length > 0) {
    out.push("## Failures", "");
    for (const f of failures) {
      out.push(`### ${f.where}`, "");
      if (f.count !== undefined) out.push(`${f.count} unexpected answer(s), by status: ${JSON.stringify(f.by_status)}. First:`, "");
      out.push(`- ${cell(f.message)}`);
      if (f.request) out.push("", "Request:", "", fence(f.request));
      if (f.response) out.push("", "Response:", "", fence(f.response));
      if (f.stack && !f.request) out.push("", fence(f.stack));
      out.push("");
    }
  }

  if (notes.length > 0) {
    out.push("## Notes", "");
    for (const n of notes) out.push(`- ${n}`);
    out.push("");
  }
  return out.join("\n");
}
