// An action that reaches the machine through ctx, as the request's type says.
import { defineAction } from "../../../../sdk/index.ts";

export default defineAction({
  async execute(ctx, request) {
    const p = request.parameters as Record<string, any>;
    switch (request.type) {
      case "fetch": {
        const res = await ctx.fetch(p.url);
        return { data: { status: res.status, body: await res.text() } };
      }
      case "read":
        return { data: { text: await ctx.fs.readText(p.path) } };
      case "write":
        await ctx.fs.writeText(p.path, p.text);
        return { data: { listed: await ctx.fs.list(p.dir) } };
      case "exec": {
        const result = await ctx.exec(p.argv, p.options);
        return { data: { ...result } };
      }
      case "exec-walk-away": {
        // Starts a child and walks away from it: exits, or never looks at its signal again.
        void ctx.exec(p.argv, { timeoutMs: 600_000 }).catch(() => {});
        await Bun.sleep(200);
        ctx.logger.info("walking away");
        if (p.then === "exit") process.exit(5);
        for (;;) {}
      }
      case "state-set":
        ctx.state.set(p.key, p.value);
        return {};
      case "state-get":
        return { data: { value: ctx.state.get(p.key) ?? null, keys: ctx.state.keys() } };
      case "system": {
        const [cpu, memory, disks, processes, network] = await Promise.all([
          ctx.system.cpuLoad(),
          ctx.system.memory(),
          ctx.system.disks(),
          ctx.system.processes(3),
          ctx.system.network(),
        ]);
        return { data: { cpu, memory, disks, processes, network } };
      }
      default:
        throw new Error(`unknown type ${request.type}`);
    }
  },
});
