// @vitest-environment jsdom
import { cleanup, render } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type LayerTool, LayerToolbar } from "../../client/src/components/LayerToolbar";

afterEach(cleanup);

function renderToolbar(tool: LayerTool) {
  const onTool = vi.fn();
  render(() =>
    createComponent(LayerToolbar, {
      tool,
      style: { kind: "free", color: "#f0c364", width: 4 },
      hasDrawings: false,
      onTool,
      onStyle: () => undefined,
      onClearDrawings: () => undefined,
    }),
  );
  return onTool;
}

describe("LayerToolbar and the keyboard", () => {
  it("puts a drawing tool down with Escape", () => {
    const onTool = renderToolbar("draw");
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }));
    expect(onTool).toHaveBeenCalledWith("select");
  });

  it("leaves Escape alone while typing, and when the select tool is already up", () => {
    const onTool = renderToolbar("note");
    const input = document.createElement("textarea");
    document.body.append(input);
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(onTool).not.toHaveBeenCalled();
    input.remove();
    cleanup();
    const idle = renderToolbar("select");
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }));
    expect(idle).not.toHaveBeenCalled();
  });
});
