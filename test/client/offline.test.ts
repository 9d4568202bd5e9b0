import { describe, expect, it, vi } from "vitest";
import { registerServiceWorker, type ServiceWorkerEvents } from "../../client/src/lib/offline";

/** Just enough of the Service Worker API for the page's side of the lifecycle. */
class FakeWorker extends EventTarget {
  state: ServiceWorkerState = "installing";
  readonly messages: unknown[] = [];
  postMessage(message: unknown) {
    this.messages.push(message);
  }
  moveTo(state: ServiceWorkerState) {
    this.state = state;
    this.dispatchEvent(new Event("statechange"));
  }
}

class FakeRegistration extends EventTarget {
  installing: FakeWorker | null = null;
  waiting: FakeWorker | null = null;
  active: FakeWorker | null = null;
  updates = 0;
  async update() {
    this.updates += 1;
  }
  /** A new sw.js was found: it starts installing. */
  found(worker: FakeWorker) {
    this.installing = worker;
    this.dispatchEvent(new Event("updatefound"));
  }
}

class FakeContainer extends EventTarget {
  controller: FakeWorker | null = null;
  readonly registration = new FakeRegistration();
  readonly registered: { url: string; options: RegistrationOptions | undefined }[] = [];
  async register(url: string, options?: RegistrationOptions) {
    this.registered.push({ url, options });
    return this.registration;
  }
}

function setup(container = new FakeContainer()) {
  const events = { onOfflineReady: vi.fn(), onUpdateReady: vi.fn() } satisfies ServiceWorkerEvents;
  const reload = vi.fn();
  let visible: (() => void) | null = null;
  const registered = registerServiceWorker(events, {
    container: container as unknown as ServiceWorkerContainer,
    reload,
    onVisible: (callback) => {
      visible = callback;
    },
  });
  return { container, events, reload, registered, becomeVisible: () => visible?.() };
}

describe("registerServiceWorker", () => {
  it("does nothing where service workers are unavailable", async () => {
    await expect(registerServiceWorker({ onOfflineReady: vi.fn(), onUpdateReady: vi.fn() }, { container: undefined })).resolves.toBeNull();
  });

  it("registers /sw.js for the whole origin, never through the HTTP cache", async () => {
    const { container, registered } = setup();
    await registered;
    expect(container.registered).toEqual([{ url: "/sw.js", options: { scope: "/", updateViaCache: "none" } }]);
  });

  it("reports offline-ready once the first worker is installed", async () => {
    const container = new FakeContainer();
    const first = new FakeWorker();
    container.registration.installing = first;
    const { events, registered } = setup(container);
    await registered;
    expect(events.onOfflineReady).not.toHaveBeenCalled();
    first.moveTo("installed");
    first.moveTo("activated");
    expect(events.onOfflineReady).toHaveBeenCalledTimes(1);
    expect(events.onUpdateReady).not.toHaveBeenCalled();
  });

  it("reports a new version, and applying it hands over and reloads once the new worker controls the page", async () => {
    const container = new FakeContainer();
    container.controller = new FakeWorker();
    const { events, reload, registered } = setup(container);
    await registered;
    const next = new FakeWorker();
    container.registration.found(next);
    next.moveTo("installed");
    container.registration.waiting = next;
    expect(events.onOfflineReady).not.toHaveBeenCalled();
    expect(events.onUpdateReady).toHaveBeenCalledTimes(1);

    const apply = events.onUpdateReady.mock.calls[0]?.[0] as () => void;
    apply();
    apply();
    expect(next.messages).toEqual([{ type: "SKIP_WAITING" }]);
    expect(reload).not.toHaveBeenCalled();
    container.dispatchEvent(new Event("controllerchange"));
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it("reports an update left waiting by an earlier page load", async () => {
    const container = new FakeContainer();
    container.controller = new FakeWorker();
    const waiting = new FakeWorker();
    waiting.state = "installed";
    container.registration.waiting = waiting;
    const { events, registered } = setup(container);
    await registered;
    expect(events.onUpdateReady).toHaveBeenCalledTimes(1);
  });

  it("looks for a new version when the page becomes visible again", async () => {
    const { container, registered, becomeVisible } = setup();
    await registered;
    becomeVisible();
    becomeVisible();
    expect(container.registration.updates).toBe(2);
  });
});
