/** createSubmitter: a form drops a second submit while one runs; queued edits (`serial`) never drop one. */
import { createRoot } from "solid-js";
import { describe, expect, it } from "vitest";
import { createSubmitter } from "../../client/src/lib/submit";

function deferred() {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("createSubmitter", () => {
  it("drops a call made while another runs, by default (a form submitted twice)", async () => {
    const gate = deferred();
    const calls: string[] = [];
    await createRoot(async (dispose) => {
      const submitter = createSubmitter(async (name: string) => {
        calls.push(name);
        await gate.promise;
        return name;
      });
      const first = submitter.run("a");
      expect(submitter.pending()).toBe(true);
      expect(await submitter.run("b")).toBeUndefined();
      gate.resolve();
      expect(await first).toBe("a");
      expect(calls).toEqual(["a"]);
      expect(submitter.pending()).toBe(false);
      dispose();
    });
  });

  it("runs every call in order with serial, pending until the last is done", async () => {
    const gate = deferred();
    const calls: string[] = [];
    await createRoot(async (dispose) => {
      const submitter = createSubmitter(
        async (name: string) => {
          calls.push(name);
          if (name === "hide") await gate.promise;
          if (name === "bad") throw new Error("refused");
          return name;
        },
        { serial: true },
      );
      const hide = submitter.run("hide");
      const rename = submitter.run("rename");
      const bad = submitter.run("bad");
      await new Promise((resolve) => setTimeout(resolve, 0));
      // The rename waits for the hide instead of being dropped.
      expect(calls).toEqual(["hide"]);
      expect(submitter.pending()).toBe(true);
      gate.resolve();
      expect(await hide).toBe("hide");
      expect(await rename).toBe("rename");
      expect(await bad).toBeUndefined();
      expect(calls).toEqual(["hide", "rename", "bad"]);
      expect(submitter.error()).toBe("refused");
      expect(submitter.pending()).toBe(false);
      dispose();
    });
  });
});
