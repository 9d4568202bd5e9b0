import Bowser from "bowser";

/** A connected client's browser and operating system, by name only ("Firefox", "Windows"); null when unknown. */
export interface Device {
  browser: string | null;
  os: string | null;
}

/** Names longer than this are not names (a crafted user agent): treated as unknown. */
const MAX_NAME = 40;

function nameOf(value: string | undefined): string | null {
  const name = value?.trim();
  return name && name.length <= MAX_NAME ? name : null;
}

/**
 * The browser and OS a user agent names, parsed on the server so the raw string never reaches
 * the UI. Anything bowser does not recognise (curl, a test client, garbage) is null.
 */
export function parseDevice(userAgent: string | null | undefined): Device {
  if (!userAgent) return { browser: null, os: null };
  try {
    const parser = Bowser.getParser(userAgent);
    return { browser: nameOf(parser.getBrowserName()), os: nameOf(parser.getOSName()) };
  } catch {
    return { browser: null, os: null };
  }
}

/**
 * A client's capabilities as stored and listed: everything it reported but a raw user agent,
 * which is read once at connect into a {@link Device} and kept nowhere.
 */
export function withoutUserAgent<T extends Record<string, unknown>>(capabilities: T): Omit<T, "user_agent"> {
  const { user_agent: _ua, ...rest } = capabilities;
  return rest;
}
