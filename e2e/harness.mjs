/**
 * Browser harness for the end-to-end tests: Debian's Chromium, started by us with a fixed set of
 * flags and a fresh profile, driven through playwright-core over the DevTools protocol.
 *
 * Why not `chromium.launch()`: playwright-core expects its own browser builds (which cannot be
 * downloaded here) and refuses a `--user-data-dir` flag; starting the system binary ourselves keeps
 * the flags and the throwaway profile exactly as we want them. Each simulated user gets their own
 * browser context (separate cookies and storage), like two people on two machines.
 *
 * Tests read the server's address from E2E_BASE_URL (set by scripts/e2e.mjs) and skip without it.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const LAUNCH_TIMEOUT_MS = 30_000;

/** Where the server under test listens, e.g. `http://127.0.0.1:8799`; undefined outside scripts/e2e.mjs. */
export const baseUrl = process.env.E2E_BASE_URL?.replace(/\/+$/, "");
/** For `test(name, { skip: skipReason }, fn)`. */
export const skipReason = baseUrl ? false : "E2E_BASE_URL is not set: run `node scripts/e2e.mjs`";

export const artifactsDir = fileURLToPath(new URL("./artifacts/", import.meta.url));

/**
 * Starts Chromium and connects to it. Call `close()` when done (in `after`): it closes the contexts,
 * stops the process and deletes the profile.
 */
export async function launchBrowser() {
  const userDataDir = await mkdtemp(path.join(tmpdir(), "vtt-e2e-chromium-"));
  const child = spawn(
    CHROMIUM_PATH,
    [
      ...CHROMIUM_FLAGS,
      `--user-data-dir=${userDataDir}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  // If the test process ends abruptly (an interrupted run), take the browser and its profile along.
  const killOnExit = () => child.kill("SIGKILL");
  const onSignal = (signal) => {
    killOnExit();
    rmSync(userDataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  const unhook = () => {
    process.off("exit", killOnExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
  process.once("exit", killOnExit);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let browser;
  try {
    const endpoint = await waitForDevToolsEndpoint(child);
    browser = await chromium.connectOverCDP(endpoint);
  } catch (error) {
    await stopProcess(child);
    unhook();
    await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
    throw error;
  }

  return {
    browser,
    /**
     * A fresh browser context (own cookies) with one page, standing for one person. `errors`
     * collects the page's uncaught exceptions and console errors, for failure reports.
     */
    async newUser(label) {
      const context = await browser.newContext({
        ...(baseUrl ? { baseURL: baseUrl } : {}),
        viewport: { width: 1280, height: 860 },
      });
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (error) => errors.push(`[${label}] page error: ${error.message}`));
      page.on("console", (message) => {
        // Chromium logs every 4xx answer (e.g. the 401 of `GET /api/auth/me` when signed out); those are expected.
        if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
          errors.push(`[${label}] console: ${message.text()}`);
        }
      });
      return { label, context, page, errors };
    },
    async close() {
      await browser.close().catch(() => {});
      await stopProcess(child);
      unhook();
      await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

/** Chromium prints `DevTools listening on ws://…` on stderr once it accepts connections. */
function waitForDevToolsEndpoint(child) {
  return new Promise((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(
      () => finish(new Error(`Chromium did not start within ${LAUNCH_TIMEOUT_MS} ms:\n${stderr}`)),
      LAUNCH_TIMEOUT_MS,
    );
    const onData = (chunk) => {
      stderr += chunk;
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (match) finish(null, match[1]);
    };
    const onExit = (code, signal) => finish(new Error(`Chromium exited early (code ${code}, signal ${signal}):\n${stderr}`));
    function finish(error, endpoint) {
      clearTimeout(timer);
      child.stderr.off("data", onData);
      child.off("exit", onExit);
      // Keep draining stderr so Chromium never blocks on a full pipe.
      child.stderr.resume();
      if (error) reject(error);
      else resolve(endpoint);
    }
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", onData);
    child.once("exit", onExit);
    child.once("error", (error) => finish(error));
  });
}

async function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timeout = new Promise((resolve) => setTimeout(resolve, 5_000, "timeout"));
  if ((await Promise.race([exited, timeout])) === "timeout") {
    child.kill("SIGKILL");
    await exited;
  }
}

/**
 * Registers `before`/`after` hooks that start one browser for the file's tests and close it, and
 * returns a handle whose `newUser` and `browser` reach that browser once it runs.
 */
export function useBrowser() {
  let harness;
  before(async () => {
    if (!skipReason) harness = await launchBrowser();
  });
  after(async () => {
    await harness?.close();
  });
  return {
    get browser() {
      return harness.browser;
    },
    newUser: (label) => harness.newUser(label),
  };
}

/** Saves a full-page PNG as `e2e/artifacts/<name>.png` and returns its path. */
export async function screenshot(page, name) {
  await mkdir(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name.replace(/[^a-zA-Z0-9_-]+/g, "-")}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Runs `fn`; if it throws, saves a screenshot of every user's page (`<name>-failure-<label>.png`)
 * and adds their collected browser errors to the message before rethrowing.
 */
export async function withFailureScreenshots(name, users, fn) {
  try {
    return await fn();
  } catch (error) {
    const notes = [];
    for (const user of users) {
      const file = await screenshot(user.page, `${name}-failure-${user.label}`).catch(() => null);
      notes.push(`${user.label}: ${user.page.url()}${file ? ` (screenshot ${file})` : ""}`, ...user.errors);
    }
    if (error instanceof Error) error.message += `\n${notes.join("\n")}`;
    throw error;
  }
}

/** A username unique to this run: `<prefix>-<random>`, within the contract's 3–32 of [a-z0-9_-]. */
export function uniqueUsername(prefix) {
  return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`.slice(0, 32);
}

/** A password that satisfies the contract (at least 10 characters). */
export const PASSWORD = "correct horse battery staple";

/** Registers through the UI: from the sign-in page (or any page that redirects there). */
export async function registerThroughUi(page, username, password = PASSWORD) {
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByRole("button", { name: "Create an account instead" }).click();
  await page.getByRole("heading", { name: "Create an account" }).waitFor();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account", exact: true }).click();
  await page.getByTestId("current-user").filter({ hasText: username }).waitFor();
}

/**
 * Takes one page off the network and back. Two parts: Chromium's network emulation for that page
 * alone (over its own DevTools session, so other tabs of the same context stay online), and the
 * session socket, which that emulation leaves open: it goes through a route that is cut while
 * offline (closed, and every reconnect refused), like a dropped network would. Call before the
 * page opens the socket. With `context: true` the whole browser context goes offline instead
 * (`context.setOffline`, which also covers its service worker).
 */
export async function cuttableNetwork(user, { page = user.page, context = false } = {}) {
  const network = { offline: false, sockets: new Set() };
  await page.routeWebSocket(
    (url) => url.pathname.endsWith("/ws"),
    (ws) => {
      if (network.offline) {
        ws.close({ code: 4000, reason: "offline" });
        return;
      }
      ws.connectToServer();
      network.sockets.add(ws);
      ws.onClose(() => network.sockets.delete(ws));
    },
  );
  // The page's API requests too: Chromium's emulation alone has let a request made right after an
  // offline reload reach the server. Refused here (what a dropped network gives the app), for this
  // page only: other tabs of the context stay online.
  await user.context.route(
    (url) => url.pathname.startsWith("/api/"),
    (route) => (network.offline && fromPage(route.request(), page) ? route.abort("internetdisconnected") : route.fallback()),
  );
  const devtools = context ? null : await user.context.newCDPSession(page);
  if (devtools) await devtools.send("Network.enable");
  return async function setOffline(offline) {
    network.offline = offline;
    if (devtools) {
      await devtools.send("Network.emulateNetworkConditions", { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    } else {
      await user.context.setOffline(offline);
    }
    if (offline) for (const ws of network.sockets) await ws.close({ code: 4000, reason: "offline" });
    else await page.evaluate(() => window.dispatchEvent(new Event("online")));
  };
}

/** Whether `request` was made by `page` (a service worker's own request has no frame). */
function fromPage(request, page) {
  try {
    return request.frame().page() === page;
  } catch {
    return false;
  }
}

/** Waits until the app's service worker controls `page` (it then opens with no network). */
export async function waitForServiceWorker(page) {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
}

/** A JSON API call made by `page` with its cookie (and CSRF token for writes); returns {status, body}. */
export async function apiFromPage(page, method, path, body) {
  return page.evaluate(
    async ([m, p, b]) => {
      const headers = { Accept: "application/json" };
      if (m !== "GET") {
        const me = await (await fetch("/api/auth/me")).json();
        headers["X-CSRF-Token"] = me.csrf_token;
        headers["Content-Type"] = "application/json";
      }
      const response = await fetch(p, { method: m, headers, body: b === undefined ? undefined : JSON.stringify(b), cache: "no-store" });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    [method, path, body],
  );
}

/** A valid PNG (RGB, a two-tone checker of 16 px squares), built here so tests need no fixture file. */
export function checkerPng(size, [r1, g1, b1], [r2, g2, b2]) {
  const rows = Buffer.alloc(size * (1 + size * 3));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 3);
    for (let x = 0; x < size; x++) {
      const light = (Math.floor(x / 16) + Math.floor(y / 16)) % 2 === 0;
      rows.set(light ? [r1, g1, b1] : [r2, g2, b2], row + 1 + x * 3);
    }
  }
  return encodePng(size, size, rows);
}

/**
 * Wraps raw RGB scanlines (each row a 0 filter byte then width * 3 bytes) in a valid PNG file.
 */
export function encodePng(width, height, rows) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, "ascii");
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Waits until the image matching `selector` has loaded (a non-zero natural width). */
export async function waitForImage(page, selector) {
  await page.waitForFunction((css) => {
    const img = document.querySelector(css);
    return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
  }, selector);
}

/** Signs in `user` as a fresh account through the invite link and waits at the table. */
export async function joinThroughInvite(user, invite, sessionName) {
  const username = uniqueUsername(user.label.slice(-3));
  await user.page.goto(invite);
  await registerThroughUi(user.page, username);
  await user.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
  return username;
}

/** Opens a tab of the GM panel beside the table (Scenes, Library, Token, Initiative, People, Archive, History, Settings). */
export async function openGmTab(page, name) {
  await page.getByRole("tablist", { name: "GM panels" }).getByRole("tab", { name, exact: true }).click();
}
