// An action that reports what its process can see and do, reaching the machine directly (node:fs, the
// global fetch) rather than through ctx: what a sandbox level enforces must hold even for code that
// ignores ctx's checks.
import fs from "node:fs";
import { defineAction } from "../../../../sdk/index.ts";

export default defineAction({
  async execute(ctx, request) {
    const p = request.parameters as Record<string, any>;
    switch (request.type) {
      case "whoami":
        return { data: { pid: process.pid, env: { ...process.env }, cwd: process.cwd() } };
      case "read":
        try {
          return { data: { text: fs.readFileSync(p.path, "utf8") } };
        } catch (error) {
          return { data: { code: (error as NodeJS.ErrnoException).code ?? String(error) } };
        }
      case "write":
        try {
          fs.writeFileSync(p.path, p.text);
          return { data: { written: true } };
        } catch (error) {
          return { data: { code: (error as NodeJS.ErrnoException).code ?? String(error) } };
        }
      case "fetch":
        try {
          const response = await fetch(p.url, { signal: AbortSignal.timeout(p.timeoutMs ?? 5000) });
          return { data: { status: response.status, body: await response.text() } };
        } catch (error) {
          return { data: { failed: String((error as Error)?.message ?? error) } };
        }
      case "log":
        ctx.logger.info("first line", { n: 1 });
        console.log("a stray console.log");
        process.stdout.write("a stray stdout write\n");
        ctx.logger.warn("second line");
        return { data: { logged: 2 } };
      case "alloc": {
        // Grows until something stops it; holding every chunk so nothing can be collected.
        const kept: number[][] = [];
        for (;;) kept.push(new Array(1 << 20).fill(kept.length + 0.5));
      }
      case "hold": {
        // Holds p.mb MiB on the JS heap until the call is aborted.
        const held = Array.from({ length: p.mb }, (_, i) => new Array(1 << 17).fill(i + 0.5));
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        return { data: { held: held.length } };
      }
      case "fail":
        throw Object.assign(new Error("refused on purpose"), { code: "permission_denied", retryable: true });
      default:
        throw new Error(`unknown type ${request.type}`);
    }
  },
});
