// A Stavily stdio action in node: answers execute_action with the request's parameters.
import { createInterface } from "node:readline";

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) break;
  const { action, action_request: request } = JSON.parse(line);
  const answer = { action, success: true };
  if (action === "execute_action") {
    console.error(`node plugin: running ${request.type}`);
    answer.data = { id: request.id, status: "completed", data: { echoed: request.parameters, runtime: "node" } };
  } else if (!["initialize", "start", "stop"].includes(action)) {
    Object.assign(answer, { success: false, error: `Unknown action: ${action}` });
  }
  console.log(JSON.stringify(answer));
}
