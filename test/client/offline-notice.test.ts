// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@solidjs/testing-library";
import { createComponent, createSignal } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { OfflineNotice } from "../../client/src/components/OfflineNotice";

afterEach(cleanup);

function renderNotice(initial: { offlineReady: boolean; onReload: (() => void) | null }) {
  const [offlineReady, setOfflineReady] = createSignal(initial.offlineReady);
  const [onReload, setOnReload] = createSignal(initial.onReload);
  const onDismiss = vi.fn(() => {
    setOfflineReady(false);
    setOnReload(null);
  });
  render(() =>
    createComponent(OfflineNotice, {
      get offlineReady() {
        return offlineReady();
      },
      get onReload() {
        return onReload();
      },
      onDismiss,
    }),
  );
  return { onDismiss };
}

describe("OfflineNotice", () => {
  it("shows nothing by default", () => {
    renderNotice({ offlineReady: false, onReload: null });
    expect(screen.queryByRole("status")).toBeNull();
  });

  it("says the app now opens without a network", () => {
    renderNotice({ offlineReady: true, onReload: null });
    expect(screen.getByRole("status").textContent).toContain("without a network");
    expect(screen.queryByRole("button")).toBeNull();
  });

  it("offers a new version: Reload applies it", () => {
    const apply = vi.fn();
    renderNotice({ offlineReady: true, onReload: apply });
    expect(screen.getByRole("status").textContent).toContain("A new version of the app is ready.");
    fireEvent.click(screen.getByRole("button", { name: "Reload" }));
    expect(apply).toHaveBeenCalledTimes(1);
  });

  it("Later puts the new version off", () => {
    const apply = vi.fn();
    const { onDismiss } = renderNotice({ offlineReady: false, onReload: apply });
    fireEvent.click(screen.getByRole("button", { name: "Later" }));
    expect(onDismiss).toHaveBeenCalledTimes(1);
    expect(apply).not.toHaveBeenCalled();
    expect(screen.queryByRole("status")).toBeNull();
  });
});
