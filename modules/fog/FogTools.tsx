import Circle from "lucide-solid/icons/circle";
import CloudFog from "lucide-solid/icons/cloud-fog";
import Eye from "lucide-solid/icons/eye";
import EyeOff from "lucide-solid/icons/eye-off";
import MousePointer2 from "lucide-solid/icons/mouse-pointer-2";
import Paintbrush from "lucide-solid/icons/paintbrush";
import Power from "lucide-solid/icons/power";
import Square from "lucide-solid/icons/square";
import { createSignal, For, Show } from "solid-js";
import type { ModuleUiProps } from "../../client/src/lib/modules";
import type { Scene } from "../../client/src/lib/types";
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

const SHAPE_ICONS = { brush: Paintbrush, rect: Square, ellipse: Circle } as const;

const TOOLS: { shape: FogShapeTool; mode: FogMode; label: string }[] = [
  { shape: "brush", mode: "reveal", label: "Brush: reveal" },
  { shape: "brush", mode: "hide", label: "Brush: hide" },
  { shape: "rect", mode: "reveal", label: "Rectangle: reveal" },
  { shape: "rect", mode: "hide", label: "Rectangle: hide" },
  { shape: "ellipse", mode: "reveal", label: "Ellipse: reveal" },
  { shape: "ellipse", mode: "hide", label: "Ellipse: hide" },
];

/**
 * The GM's fog tools in the table's floating tool bar: a "Fog of war" button opening a small
 * panel under it to turn fog on or off, pick a brush or shape that reveals or hides (then paint
 * on the map: picking one closes the panel, the tool stays held and the button shows it), reveal
 * or hide everything. Players see nothing here.
 */
export function FogTools(props: ModuleUiProps) {
  const tools = fogToolState(props.sync);
  const [open, setOpen] = createSignal(false);
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
        <div class="fog-tools-slot">
          <button
            type="button"
            class="button-small tool-button"
            classList={{ "button-quiet": tools.tool() === null, "tool-held": tools.tool() !== null }}
            aria-expanded={open()}
            aria-controls="fog-tools-panel"
            aria-label="Fog of war"
            title={tools.tool() ? "Fog of war (a fog tool is held)" : "Fog of war"}
            onClick={() => setOpen(!open())}
          >
            <CloudFog aria-hidden={true} />
            <span class="tool-label">Fog</span>
          </button>
          <section id="fog-tools-panel" class="fog-panel tool-popover" data-testid="fog-panel" aria-label="Fog of war" hidden={!open()}>
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
                  <Power aria-hidden={true} /> Turn fog on
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
                      <Power aria-hidden={true} /> Turn fog off
                    </button>
                    <button type="button" class="button-small" data-testid="fog-reveal-all" onClick={() => void fill(f(), "reveal")}>
                      <Eye aria-hidden={true} /> Reveal all
                    </button>
                    <button type="button" class="button-small" data-testid="fog-hide-all" onClick={() => void fill(f(), "hide")}>
                      <EyeOff aria-hidden={true} /> Hide all
                    </button>
                  </div>
                  <fieldset class="fog-tools">
                    <legend>Paint on the map</legend>
                    <div class="fog-tool-grid">
                      <For each={TOOLS}>
                        {(t) => {
                          const active = () => tools.tool()?.shape === t.shape && tools.tool()?.mode === t.mode;
                          const Icon = SHAPE_ICONS[t.shape];
                          return (
                            <button
                              type="button"
                              class="button-small tool-button"
                              classList={{ "button-quiet": !active(), "fog-hide": t.mode === "hide" }}
                              data-testid={`fog-tool-${t.shape}-${t.mode}`}
                              aria-pressed={active()}
                              aria-label={t.label}
                              title={t.label}
                              onClick={() => {
                                // A tool picked: the panel gets out of the way of the map it paints on.
                                if (!active()) setOpen(false);
                                tools.setTool(active() ? null : { shape: t.shape, mode: t.mode });
                              }}
                            >
                              <Icon aria-hidden={true} />
                              {t.mode === "reveal" ? <Eye aria-hidden={true} /> : <EyeOff aria-hidden={true} />}
                            </button>
                          );
                        }}
                      </For>
                    </div>
                    <button
                      type="button"
                      class="button-small button-quiet"
                      data-testid="fog-tool-none"
                      aria-pressed={tools.tool() === null}
                      onClick={() => tools.setTool(null)}
                    >
                      <MousePointer2 aria-hidden={true} /> Move tokens
                    </button>
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
        </div>
      )}
    </Show>
  );
}
