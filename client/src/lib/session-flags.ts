/**
 * The table-wide switches in `session_state.flags` that the GM toggles and every client applies:
 * `lighting` (boolean) and `grid_opacity` (0..1). `flags` is free JSON, so values are read
 * defensively and fall back to the schema's defaults.
 */

export const DEFAULT_GRID_OPACITY = 0.5;

type Flags = Record<string, unknown> | null | undefined;

export function gridOpacityOf(flags: Flags): number {
  const value = flags?.grid_opacity;
  return typeof value === "number" && value >= 0 && value <= 1 ? value : DEFAULT_GRID_OPACITY;
}

export function lightingOf(flags: Flags): boolean {
  return flags?.lighting === true;
}

/** A grid opacity from a slider's text, kept within 0..1 and to two decimals; null when it is not a number. */
export function parseGridOpacity(text: string): number | null {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) return null;
  return Math.round(Math.min(1, Math.max(0, value)) * 100) / 100;
}
