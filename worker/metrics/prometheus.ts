/**
 * Prometheus text exposition format (version 0.0.4): one `# HELP` and one `# TYPE` line per
 * family, then its samples. Label values are escaped here; names are checked, so a bad name is a
 * bug caught by the first scrape in the tests rather than a broken scrape in production.
 */

export type Labels = Record<string, string>;

export interface Sample {
  /** The sample's name when it differs from the family's (histograms: `_bucket`, `_sum`, `_count`). */
  name?: string;
  labels?: Labels;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: "gauge" | "counter" | "histogram";
  samples: Sample[];
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** `{a="1",b="2"}`, in the order given; "" for no labels. */
export function renderLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return "";
  for (const [name] of entries) if (!labelName.test(name) || name.startsWith("__")) throw new Error(`bad label name ${name}`);
  return `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

export function render(families: Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!metricName.test(family.name)) throw new Error(`bad metric name ${family.name}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const name = sample.name ?? family.name;
      if (!metricName.test(name)) throw new Error(`bad metric name ${name}`);
      lines.push(`${name}${renderLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
