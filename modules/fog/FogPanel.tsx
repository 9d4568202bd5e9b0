import { createSignal, For, Show } from "solid-js";
import type { Scene } from "../../client/src/lib/api";
import type { ModuleUiProps } from "../../client/src/lib/modules";
import {
  enableFog,
  type FogEntity,
  type FogShapeTool,
  fogChunks,
  fogToolState,
  MAX_BRUSH_RADIUS,
  MIN_BRUSH_RADIUS,
  sceneFog,
  submitFogOps,
} from "./client-tools";
import { type FogMode, fogOps } from "./editing";

const TOOLS: { shape: FogShapeTool; mode: FogMode; label: string }[] = [
  { shape: "brush", mode: "reveal", label: "Brush: reveal" },
  { shape: "brush", mode: "hide", label: "Brush: hide" },
  { shape: "rect", mode: "reveal", label: "Rectangle: reveal" },
  { shape: "rect", mode: "hide", label: "Rectangle: hide" },
  { shape: "ellipse", mode: "reveal", label: "Ellipse: reveal" },
  { shape: "ellipse", mode: "hide", label: "Ellipse: hide" },
];

/**
 * The GM's fog controls for the scene on the table: turn fog on or off, pick a tool (then paint
 * on the map), reveal or hide everything. Players see nothing here.
 */
export function FogPanel(props: ModuleUiProps) {
  const tools = fogToolState(props.sync);
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);

  const fog = (scene: Scene) => sceneFog(props.sync, scene.id);

  async function run(task: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await task();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  function fill(f: FogEntity, mode: FogMode) {
    return run(() => submitFogOps(props.sync, fogOps(f, fogChunks(props.sync, f.id), { kind: "all" }, mode)));
  }

  return (
    <Show when={props.isGm ? props.scene : undefined}>
      {(scene) => (
        <section class="fog-panel" data-testid="fog-panel" aria-label="Fog of war">
          <h2>Fog of war</h2>
          <Show
            when={fog(scene())?.enabled ? fog(scene()) : undefined}
            fallback={
              <button
                type="button"
                class="button-small"
                data-testid="fog-enable"
                disabled={busy()}
                onClick={() => void run(() => enableFog(props.sync, props.sessionId, scene()))}
              >
                Turn fog on
              </button>
            }
          >
            {(f) => (
              <>
                <div class="button-row">
                  <button
                    type="button"
                    class="button-small"
                    data-testid="fog-disable"
                    onClick={() => {
                      tools.setTool(null);
                      void run(() => props.sync.update("fog", f().id, { enabled: false }).then(() => undefined));
                    }}
                  >
                    Turn fog off
                  </button>
                  <button type="button" class="button-small" data-testid="fog-reveal-all" onClick={() => void fill(f(), "reveal")}>
                    Reveal all
                  </button>
                  <button type="button" class="button-small" data-testid="fog-hide-all" onClick={() => void fill(f(), "hide")}>
                    Hide all
                  </button>
                </div>
                <fieldset class="fog-tools">
                  <legend>Paint on the map</legend>
                  <div class="button-row">
                    <For each={TOOLS}>
                      {(t) => {
                        const active = () => tools.tool()?.shape === t.shape && tools.tool()?.mode === t.mode;
                        return (
                          <button
                            type="button"
                            class="button-small"
                            data-testid={`fog-tool-${t.shape}-${t.mode}`}
                            aria-pressed={active()}
                            onClick={() => tools.setTool(active() ? null : { shape: t.shape, mode: t.mode })}
                          >
                            {t.label}
                          </button>
                        );
                      }}
                    </For>
                    <button
                      type="button"
                      class="button-small button-quiet"
                      data-testid="fog-tool-none"
                      aria-pressed={tools.tool() === null}
                      onClick={() => tools.setTool(null)}
                    >
                      Move tokens
                    </button>
                  </div>
                  <label>
                    Brush radius ({tools.radius()} px){" "}
                    <input
                      type="range"
                      data-testid="fog-radius"
                      min={MIN_BRUSH_RADIUS}
                      max={MAX_BRUSH_RADIUS}
                      step={4}
                      value={tools.radius()}
                      onInput={(event) => tools.setRadius(Number(event.currentTarget.value))}
                    />
                  </label>
                </fieldset>
              </>
            )}
          </Show>
          <Show when={error()}>
            {(message) => (
              <p class="module-error" role="alert">
                {message()}
              </p>
            )}
          </Show>
        </section>
      )}
    </Show>
  );
}
