import { afterEach, describe, expect, test } from "bun:test";
import { createTestbed, type Testbed } from "../_testkit.ts";

let bed: Testbed;
afterEach(() => bed.close());

describe("/openapi.json", () => {
  test("describes every registered route, and nothing that is not one", async () => {
    bed = createTestbed();
    const document = (await bed.send(undefined, "GET", "/openapi.json")).body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe("3.1.0");
    // Middleware is registered as method ALL; only handlers are operations.
    const routes = bed.app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, "{$1}")}`);
    const described = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
    expect(new Set(routes)).toEqual(new Set(described));
  });

  test("request bodies carry the shared schemas' fields", async () => {
    bed = createTestbed();
    const document = (await bed.send(undefined, "GET", "/openapi.json")).body;
    const heartbeat = document.paths["/agents/v1/{agent_id}/heartbeat"].post.requestBody.content["application/json"].schema;
    expect(heartbeat.required).toEqual(expect.arrayContaining(["timestamp", "status"]));
    const create = document.paths["/api/v1/instructions"].post.requestBody.content["application/json"].schema;
    expect(Object.keys(create.properties)).toEqual(expect.arrayContaining(["agent_id", "plugin_id", "expires_in", "correlation_id"]));
  });
});
