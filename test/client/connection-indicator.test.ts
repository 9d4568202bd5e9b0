// @vitest-environment jsdom
import { cleanup, render, screen } from "@solidjs/testing-library";
import { createComponent, createSignal } from "solid-js";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionIndicator } from "../../client/src/components/ConnectionIndicator";
import type { TransportStatus } from "../../client/src/lib/transport";

afterEach(cleanup);

function renderIndicator(connection: TransportStatus, pending: number) {
  const [status, setStatus] = createSignal(connection);
  const [queued, setQueued] = createSignal(pending);
  render(() =>
    createComponent(ConnectionIndicator, {
      get connection() {
        return status();
      },
      get pending() {
        return queued();
      },
    }),
  );
  return { indicator: screen.getByRole("status", { name: "Connection" }), setStatus, setQueued };
}

describe("ConnectionIndicator", () => {
  it.each([
    { connection: "live", text: "Live", tone: "live" },
    { connection: "polling", text: "Polling", tone: "polling" },
    { connection: "offline", text: "Offline", tone: "offline" },
    { connection: "reconnecting", text: "Reconnecting…", tone: "polling" },
    { connection: "connecting", text: "Connecting…", tone: "polling" },
    { connection: "stopped", text: "Offline", tone: "offline" },
  ] as const)("shows $connection as “$text”", ({ connection, text, tone }) => {
    const { indicator } = renderIndicator(connection, 0);
    expect(indicator.textContent).toBe(text);
    expect(indicator.dataset.tone).toBe(tone);
  });

  it("counts the queued changes, and says nothing of them when there are none", () => {
    const { indicator, setQueued } = renderIndicator("offline", 3);
    expect(indicator.textContent).toContain("3 changes queued");
    setQueued(1);
    expect(indicator.textContent).toContain("1 change queued");
    setQueued(0);
    expect(indicator.textContent).toBe("Offline");
  });

  it("follows the connection as it changes", () => {
    const { indicator, setStatus } = renderIndicator("live", 0);
    setStatus("polling");
    expect(indicator.textContent).toBe("Polling");
  });

  it("says Offline while the browser has no network, whatever the transport is still trying", () => {
    const onLine = Object.getOwnPropertyDescriptor(Navigator.prototype, "onLine");
    let online = true;
    Object.defineProperty(navigator, "onLine", { configurable: true, get: () => online });
    try {
      const { indicator } = renderIndicator("connecting", 2);
      expect(indicator.dataset.tone).toBe("polling");
      online = false;
      window.dispatchEvent(new Event("offline"));
      expect(indicator.dataset.tone).toBe("offline");
      expect(indicator.textContent).toBe("Offline2 changes queued");
      online = true;
      window.dispatchEvent(new Event("online"));
      expect(indicator.textContent).toBe("Connecting…2 changes queued");
    } finally {
      delete (navigator as { onLine?: boolean }).onLine;
      if (onLine) Object.defineProperty(Navigator.prototype, "onLine", onLine);
    }
  });
});

describe("ConnectionIndicator while the browser is offline", () => {
  it("says Offline even when the transport still believes its socket live", () => {
    const onLine = Object.getOwnPropertyDescriptor(Navigator.prototype, "onLine");
    let online = true;
    Object.defineProperty(navigator, "onLine", { configurable: true, get: () => online });
    try {
      const { indicator } = renderIndicator("live", 0);
      expect(indicator.textContent).toBe("Live");
      online = false;
      window.dispatchEvent(new Event("offline"));
      expect(indicator.textContent).toBe("Offline");
      online = true;
      window.dispatchEvent(new Event("online"));
      expect(indicator.textContent).toBe("Live");
    } finally {
      delete (navigator as { onLine?: boolean }).onLine;
      if (onLine) Object.defineProperty(Navigator.prototype, "onLine", onLine);
    }
  });
});
