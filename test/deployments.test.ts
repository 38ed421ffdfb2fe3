/**
 * deployments/docker and deployments/kubernetes, checked offline (no Docker engine, no cluster): the
 * files parse, refer to each other consistently, pass every config they carry through the real config
 * loader, and name only commands and flags the compiled binary has. The image's HEALTHCHECK and the
 * Kubernetes probes are then run against real agents, started with the image's configs, as uid 10001
 * on a read-only root (bubblewrap, when this machine allows user namespaces).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { loadConfig, type Config } from "../src/core/config/index.ts";
import { binaryName, hostTarget, TARGETS } from "../scripts/build.ts";
import { hostBinary } from "./support/binary.ts";
import { repoRoot, runCli } from "./support/cli.ts";
import { canSandbox, composeValue, dockerfile, dockerIgnored, dockerignore, execForm, sandboxedAgent } from "./support/deployments.ts";
import { freePort, killAll, startProcess, waitUntil } from "./support/process.ts";

const DOCKER = join(repoRoot, "deployments", "docker");
const K8S = join(repoRoot, "deployments", "kubernetes");
const dir = mkdtempSync(join(tmpdir(), "stavily-deploy-"));
let binary: string;

beforeAll(async () => {
  binary = await hostBinary();
});
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

// ---- helpers -----------------------------------------------------------------------------------

const GROUPS = new Set(["config", "plugin", "home", "audit"]);

/** argv's command (`health`, `config validate`) exists, and so does every flag it passes: checked with --help. */
async function expectRealCommand(argv: string[]): Promise<void> {
  const command = argv.slice(0, GROUPS.has(argv[0]!) ? 2 : 1);
  const help = await runCli([...command, "--help"], { binary });
  expect(help.code).toBe(0);
  expect(help.stdout).toContain(`$ stavily ${command.join(" ")}`);
  for (const flag of argv.filter((arg) => /^--?[a-z]/.test(arg))) expect(help.stdout).toMatch(new RegExp(`(^|\\s)${flag}(\\s|$|,)`, "m"));
}

function validate(file: string, env: Record<string, string>, type: "sensor" | "action"): Config {
  const loaded = loadConfig({ configFile: file, env, type, cwd: dir });
  expect(loaded.warnings).toEqual([]);
  return loaded.config;
}

// ---- the image ---------------------------------------------------------------------------------

const image = dockerfile(join(DOCKER, "Dockerfile"));
const stages = image.filter((i) => i.op === "FROM").map((i) => i.args);
const runtime = image.slice(image.findLastIndex((i) => i.op === "FROM"));
const imageConfigs = { sensor: join(DOCKER, "config", "sensor.yaml"), action: join(DOCKER, "config", "action.yaml") };

describe("Dockerfile", () => {
  test("a Bun build stage running scripts/build.ts for each Linux target, copied into a glibc runtime", () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/oven\/bun:\$\{BUN_VERSION\} AS build$/);
    const bunVersion = image.find((i) => i.op === "ARG" && i.args.startsWith("BUN_VERSION="))!.args.split("=")[1];
    expect(Bun.version).toBe(bunVersion!);
    expect(stages[1]).toMatch(/^(debian:bookworm-slim|gcr\.io\/distroless\/cc\S*)( AS \w+)?$/);

    const build = image.find((i) => i.op === "RUN" && i.args.includes("scripts/build.ts"))!.args;
    for (const [arch, target] of [...build.matchAll(/(\w+)\) target=([\w-]+)/g)].map((m) => [m[1], m[2]])) {
      expect(["amd64", "arm64"]).toContain(arch!);
      expect(TARGETS as readonly string[]).toContain(target!);
    }
    expect(build).toContain('mv "/out/stavily-$target" /out/stavily');
    expect(runtime.find((i) => i.op === "COPY" && i.args.startsWith("--from=build"))!.args).toBe("--from=build /out/stavily /usr/local/bin/stavily");
  });

  test("every COPY source exists and the build context (.dockerignore) lets it through", () => {
    const patterns = dockerignore(join(repoRoot, ".dockerignore"));
    const sources = image.filter((i) => i.op === "COPY" && !i.args.startsWith("--from")).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(4);
    for (const source of sources) {
      expect(existsSync(join(repoRoot, source))).toBe(true);
      expect(dockerIgnored(source, patterns)).toBe(false);
    }
    for (const secret of ["dist/stavily-linux-x64", "node_modules/yaml/package.json", "stavily-orchestrator.db", ".git/HEAD", "test/e2e/health.test.ts"]) {
      expect(dockerIgnored(secret, patterns)).toBe(true);
    }
  });

  test("the filtered build context alone is enough for the build stage's command", async () => {
    const patterns = dockerignore(join(repoRoot, ".dockerignore"));
    const context = join(dir, "context");
    const skip = new Set([".git", "node_modules", "dist"]);
    for (const path of readdirSync(repoRoot, { recursive: true }) as string[]) {
      if (skip.has(path.split("/")[0]!) || dockerIgnored(path, patterns) || !statSync(join(repoRoot, path)).isFile()) continue;
      mkdirSync(dirname(join(context, path)), { recursive: true });
      writeFileSync(join(context, path), readFileSync(join(repoRoot, path)));
    }
    // `bun install --production` in the image; the checkout's modules stand in for it here.
    symlinkSync(join(repoRoot, "node_modules"), join(context, "node_modules"));
    const target = hostTarget();
    const build = Bun.spawnSync([process.execPath, "scripts/build.ts", "--target", target, "--outdir", join(context, "out")], { cwd: context, stdout: "pipe", stderr: "pipe" });
    expect(build.stderr.toString()).toBe("");
    expect(build.exitCode).toBe(0);
    const version = Bun.spawnSync([join(context, "out", binaryName(target)), "version"], { stdout: "pipe" });
    expect(version.stdout.toString()).toContain(`target:  ${target}`);
  }, 120_000);

  test("non-root, state only on the declared volume, a HEALTHCHECK the binary understands", async () => {
    const user = runtime.findLast((i) => i.op === "USER")!.args;
    expect(user).toBe("10001:10001");
    expect(runtime.find((i) => i.op === "RUN" && i.args.includes("useradd"))!.args).toContain("--uid 10001");
    const volumes = execForm(runtime.find((i) => i.op === "VOLUME")!.args);
    expect(volumes).toEqual(["/var/lib/stavily"]);
    expect(runtime.find((i) => i.op === "ENV" && i.args.startsWith("HOME="))!.args).toBe("HOME=/var/lib/stavily");

    const healthcheck = execForm(runtime.find((i) => i.op === "HEALTHCHECK")!.args);
    expect(healthcheck.slice(0, 2)).toEqual(["stavily", "health"]);
    await expectRealCommand(healthcheck.slice(1));
    const probed = new URL(healthcheck[healthcheck.indexOf("--url") + 1]!);

    const entrypoint = execForm(runtime.find((i) => i.op === "ENTRYPOINT")!.args);
    expect(entrypoint).toEqual(["/usr/bin/tini", "--", "stavily"]);
    await expectRealCommand(execForm(runtime.find((i) => i.op === "CMD")!.args));
    expect(runtime.find((i) => i.op === "COPY" && i.args.includes("config/sensor.yaml"))!.args).toEndWith(" /etc/stavily/");

    for (const [type, file] of Object.entries(imageConfigs) as Array<["sensor" | "action", string]>) {
      const config = validate(file, {}, type);
      expect(String(config.health.port)).toBe(probed.port);
      expect(config.health.bind).toBe("0.0.0.0");
      expect(volumes.some((volume) => config.agent.base_dir.startsWith(volume))).toBe(true);
    }
  });
});

// ---- docker compose ----------------------------------------------------------------------------

const compose = parse(readFileSync(join(DOCKER, "docker-compose.yml"), "utf8"), { merge: true }) as any;
const composeDev = parse(readFileSync(join(DOCKER, "docker-compose.dev.yml"), "utf8"), { merge: true }) as any;

/** `host:container[:ro]` volume strings of a service, host side resolved against the compose file. */
function mounts(service: any): Map<string, string> {
  return new Map(
    (service.volumes as string[]).map((spec) => {
      const [host, container] = spec.split(":");
      return [container!, host!.startsWith(".") ? resolve(DOCKER, host!) : host!];
    }),
  );
}

describe("docker-compose.yml", () => {
  const { orchestrator, sensor, action } = compose.services;
  const flag = (command: string[], name: string) => command[command.indexOf(name) + 1]!;

  test("orchestrator, sensor and action from the one image, hardened, with state on volumes", async () => {
    expect(Object.keys(compose.services).sort()).toEqual(["action", "orchestrator", "sensor"]);
    for (const service of Object.values(compose.services) as any[]) {
      expect(resolve(DOCKER, service.build.context, service.build.dockerfile)).toBe(join(DOCKER, "Dockerfile"));
      expect(service.read_only).toBe(true);
      expect(service.tmpfs.some((t: string) => t.startsWith("/tmp"))).toBe(true);
      expect(service.cap_drop).toEqual(["ALL"]);
      expect(service.security_opt).toContain("no-new-privileges:true");
      const state = mounts(service).get("/var/lib/stavily");
      expect(Object.keys(compose.volumes)).toContain(state!);
      await expectRealCommand(service.command);
      expect(service.healthcheck.test[0]).toBe("CMD");
      await expectRealCommand(service.healthcheck.test.slice(2));
    }
    expect(orchestrator.command[0]).toBe("orchestrator");
    expect(flag(orchestrator.command, "--db")).toStartWith("/var/lib/stavily/");
    expect(new URL(orchestrator.healthcheck.test[orchestrator.healthcheck.test.indexOf("--url") + 1]).pathname).toBe("/healthz");
  });

  test("agents reach the orchestrator by service name, with configs and tokens it accepts", () => {
    const [, listenPort] = flag(orchestrator.command, "--listen").split(":");
    const tokensFile = mounts(orchestrator).get(flag(orchestrator.command, "--tokens"))!;
    const tokens = parse(readFileSync(tokensFile, "utf8")) as Record<string, string>;
    for (const [name, service] of [["sensor", sensor], ["action", action]] as const) {
      expect(service.command[0]).toBe(name);
      expect(service.depends_on.orchestrator.condition).toBe("service_healthy");
      const env = Object.fromEntries(Object.entries(service.environment).map(([k, v]) => [k, composeValue(v)]));
      const url = new URL(env.STAVILY_API_BASE_URL!);
      expect(url.hostname).toBe("orchestrator");
      expect(url.port).toBe(listenPort!);
      const configFile = mounts(service).get(service.command[service.command.indexOf("-c") + 1])!;
      expect(configFile).toBe(imageConfigs[name]);
      const config = validate(configFile, env, name);
      expect(config.api.base_url).toBe(env.STAVILY_API_BASE_URL!);
      expect(tokens[config.agent.id]).toBe(config.security.auth.api_key);

      const devEnv = { ...env, ...Object.fromEntries(Object.entries(composeDev.services[name].environment).map(([k, v]) => [k, composeValue(v)])) };
      validate(configFile, devEnv, name);
      const published = String(composeDev.services[name].ports[0]).split(":");
      expect(published[0]).toBe("127.0.0.1");
      expect(published[2]).toBe(String(config.health.port));
    }
    expect(Object.keys(composeDev.services).every((name) => name in compose.services)).toBe(true);
  });
});

// ---- kubernetes --------------------------------------------------------------------------------

const kustomization = parse(readFileSync(join(K8S, "kustomization.yaml"), "utf8")) as { namespace: string; resources: string[] };
const objects = kustomization.resources.flatMap((file) => parseAllDocuments(readFileSync(join(K8S, file), "utf8")).map((doc) => doc.toJS() as any));
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const workloads = [...byKind("Deployment"), ...byKind("DaemonSet")];
const secretData = (name: string): Record<string, string> => {
  const secret = named("Secret", name);
  const data = { ...(secret?.stringData ?? {}) };
  for (const [key, value] of Object.entries(secret?.data ?? {})) data[key] = Buffer.from(String(value), "base64").toString();
  return data;
};

describe("kubernetes manifests", () => {
  test("every file is in the kustomization; every object has its kind's required fields, in one namespace", () => {
    const files = readdirSync(K8S).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect(kustomization.resources.sort()).toEqual(files.sort());
    const required: Record<string, string[]> = {
      Namespace: [],
      Secret: ["type"],
      ConfigMap: ["data"],
      PersistentVolumeClaim: ["spec.accessModes", "spec.resources.requests.storage"],
      Service: ["spec.selector", "spec.ports"],
      Deployment: ["spec.selector.matchLabels", "spec.template.spec.containers"],
      DaemonSet: ["spec.selector.matchLabels", "spec.template.spec.containers"],
    };
    for (const object of objects) {
      expect(object.apiVersion).toBe(["Deployment", "DaemonSet"].includes(object.kind) ? "apps/v1" : "v1");
      expect(Object.keys(required)).toContain(object.kind);
      expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (object.kind !== "Namespace") expect(object.metadata.namespace).toBe(kustomization.namespace);
      for (const path of required[object.kind]!) expect(path.split(".").reduce((o: any, k) => o?.[k], object)).toBeDefined();
    }
    expect(named("Namespace", kustomization.namespace)).toBeDefined();
  });

  test("selectors match, every referenced ConfigMap, Secret key and PVC exists, probes name real ports", () => {
    for (const workload of workloads) {
      const pod = workload.spec.template.spec;
      expect(workload.spec.template.metadata.labels).toMatchObject(workload.spec.selector.matchLabels);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 });
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const volume of pod.volumes) {
        if (volume.configMap) expect(named("ConfigMap", volume.configMap.name)).toBeDefined();
        if (volume.secret) {
          expect(named("Secret", volume.secret.secretName)).toBeDefined();
          for (const item of volume.secret.items ?? []) expect(Object.keys(secretData(volume.secret.secretName))).toContain(item.key);
        }
        if (volume.persistentVolumeClaim) expect(named("PersistentVolumeClaim", volume.persistentVolumeClaim.claimName)).toBeDefined();
      }
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
        expect(container.resources.requests.memory).toBeDefined();
        expect(container.resources.limits.memory).toBeDefined();
        for (const mount of container.volumeMounts) expect(pod.volumes.map((v: any) => v.name)).toContain(mount.name);
        for (const env of container.env ?? []) {
          const ref = env.valueFrom?.secretKeyRef;
          if (ref) expect(Object.keys(secretData(ref.name))).toContain(ref.key);
        }
        const writable = container.volumeMounts.filter((m: any) => !m.readOnly).map((m: any) => m.mountPath);
        expect(container.name === "token" || writable.includes("/tmp")).toBe(true);
        for (const probe of [container.livenessProbe, container.readinessProbe].filter(Boolean)) {
          expect(container.ports.map((p: any) => p.name)).toContain(probe.httpGet.port);
        }
      }
    }
    for (const service of byKind("Service")) {
      const target = workloads.find((w) => Object.entries(service.spec.selector).every(([k, v]) => w.spec.template.metadata.labels[k] === v))!;
      expect(target).toBeDefined();
      const ports = target.spec.template.spec.containers.flatMap((c: any) => c.ports);
      for (const port of service.spec.ports) expect(ports.map((p: any) => p.name)).toContain(port.targetPort);
    }
  });

  test("the orchestrator listens where its Service, probes and agents look; tokens line up", () => {
    const deployment = named("Deployment", "stavily-orchestrator");
    const container = deployment.spec.template.spec.containers[0];
    expect(deployment.spec.strategy.type).toBe("Recreate");
    expect(deployment.spec.replicas).toBe(1);
    const args: string[] = container.args;
    const listen = args[args.indexOf("--listen") + 1]!;
    expect(listen).toMatch(/^0\.0\.0\.0:\d+$/);
    const port = Number(listen.split(":")[1]);
    expect(container.ports.find((p: any) => p.name === "http").containerPort).toBe(port);
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    expect(args[args.indexOf("--db") + 1]).toStartWith(container.volumeMounts.find((m: any) => m.name === "data").mountPath);
    const tokensMount = container.volumeMounts.find((m: any) => m.name === "tokens");
    const tokensVolume = deployment.spec.template.spec.volumes.find((v: any) => v.name === "tokens");
    expect(args[args.indexOf("--tokens") + 1]).toBe(`${tokensMount.mountPath}/${tokensVolume.secret.items[0].path}`);
    const tokens = parse(secretData("stavily-orchestrator")["tokens.yaml"]!) as Record<string, string>;
    for (const [node, token] of Object.entries(secretData("stavily-sensor-tokens"))) expect(tokens[`sensor-${node}`]).toBe(token);
    expect(Object.values(tokens).every((token) => token.length >= 8)).toBe(true);
    expect(new Set(Object.values(tokens)).size).toBe(Object.keys(tokens).length);
    expect(named("Service", "stavily-orchestrator").spec.ports[0].port).toBe(port);
  });

  test("each agent's ConfigMap passes the config loader with the pod's environment; probes hit its health port", () => {
    const service = named("Service", "stavily-orchestrator");
    const tokens = parse(secretData("stavily-orchestrator")["tokens.yaml"]!) as Record<string, string>;
    for (const [name, type] of [["stavily-sensor", "sensor"], ["stavily-action", "action"]] as const) {
      const workload = workloads.find((w) => w.metadata.name === name)!;
      const container = workload.spec.template.spec.containers[0];
      expect(container.args.slice(0, 1)).toEqual([type]);
      const configPath = container.args[container.args.indexOf("-c") + 1];
      const mount = container.volumeMounts.find((m: any) => m.mountPath === configPath);
      const configMap = named("ConfigMap", workload.spec.template.spec.volumes.find((v: any) => v.name === mount.name).configMap.name);
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, configMap.data[mount.subPath]);

      const env: Record<string, string> = {};
      for (const e of container.env) {
        env[e.name] = e.value !== undefined ? e.value.replace(/\$\(([A-Z_]+)\)/g, (_: string, v: string) => env[v]!) : e.valueFrom.secretKeyRef ? secretData(e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key]! : "node-1";
      }
      const config = validate(file, env, type);
      const url = new URL(config.api.base_url);
      expect(url.hostname).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc`);
      expect(Number(url.port)).toBe(service.spec.ports[0].port);
      expect(config.health.bind).toBe("0.0.0.0");
      expect(container.ports.find((p: any) => p.name === "health").containerPort).toBe(config.health.port);
      expect(container.livenessProbe.httpGet.path).toBe(config.health.path);
      expect(container.readinessProbe.httpGet.path).toBe("/ready");
      expect(container.volumeMounts.find((m: any) => !m.readOnly && config.agent.base_dir.startsWith(m.mountPath))).toBeDefined();
      expect(config.health.auth_token).not.toBe("");
      if (type === "action") expect(tokens[config.agent.id]).toBe(config.security.auth.api_key);
      if (type === "sensor") {
        expect(config.agent.id).toBe("sensor-node-1");
        for (const trigger of config.sensor.triggers.filter((t) => t.plugin === "disk-space-monitor")) {
          for (const path of trigger.config.paths as string[]) expect(container.volumeMounts.find((m: any) => m.mountPath === path && m.readOnly)).toBeDefined();
        }
      }
    }
  });

  test("the sensor mounts the host read-only, and its init container hands over its node's token as an owner-only file", async () => {
    const daemonSet = named("DaemonSet", "stavily-sensor");
    const pod = daemonSet.spec.template.spec;
    const sensor = pod.containers[0];
    for (const [host, path] of [["/proc", "/host/proc"], ["/sys", "/host/sys"], ["/", "/host/root"]]) {
      const volume = pod.volumes.find((v: any) => v.hostPath?.path === host);
      expect(sensor.volumeMounts.find((m: any) => m.name === volume.name)).toMatchObject({ mountPath: path, readOnly: true });
    }
    expect(pod.hostPID ?? false).toBe(false);
    const tokenFile = (parse(named("ConfigMap", "stavily-sensor-config").data["sensor.yaml"]) as any).security.auth.token_file as string;

    const init = pod.initContainers[0];
    const secretsDir = join(dir, "sensor-tokens");
    const runDir = join(dir, "run");
    mkdirSync(secretsDir);
    mkdirSync(runDir);
    for (const [node, token] of Object.entries(secretData("stavily-sensor-tokens"))) writeFileSync(join(secretsDir, node), token, { mode: 0o440 });
    const secretsMount = init.volumeMounts.find((m: any) => m.name === "sensor-tokens").mountPath;
    const runMount = init.volumeMounts.find((m: any) => m.name === "run").mountPath;
    expect(dirname(tokenFile)).toBe(runMount);
    const script = init.command[2].replaceAll(secretsMount, secretsDir).replaceAll(runMount, runDir);
    const run = (node: string) => Bun.spawnSync([init.command[0], init.command[1], script], { env: { PATH: process.env.PATH!, NODE_NAME: node } });
    expect(run("node-1").exitCode).toBe(0);
    const copied = join(runDir, tokenFile.slice(runMount.length + 1));
    // Group- or world-readable token files are refused by the agent (src/core/secret-file.ts).
    expect(statSync(copied).mode & 0o077).toBe(0);
    expect(readFileSync(copied, "utf8")).toBe(secretData("stavily-sensor-tokens")["node-1"]!);
    const missing = run("node-9");
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr.toString()).toContain("has no key node-9");
  });
});

// ---- the health checks against running agents --------------------------------------------------

describe("health checks against real agents", () => {
  test("the image's configs run as uid 10001 on a read-only root; HEALTHCHECK and probes answer", async () => {
    const orchestratorPort = freePort();
    const { orchestrator } = compose.services;
    const tokensFile = mounts(orchestrator).get(orchestrator.command[orchestrator.command.indexOf("--tokens") + 1])!;
    const orch = startProcess([binary, "orchestrator", "--db", ":memory:", "--listen", `127.0.0.1:${orchestratorPort}`, "--tokens", tokensFile, "--admin-token", "deploy-admin-0123456789"]);
    await orch.waitFor(/listening on/);
    const orchestratorCheck = orchestrator.healthcheck.test.slice(2).map((arg: string) => arg.replace(":8000", `:${orchestratorPort}`));
    expect((await runCli(orchestratorCheck, { binary })).code).toBe(0);

    const sandboxed = canSandbox();
    const healthcheck = execForm(runtime.find((i) => i.op === "HEALTHCHECK")!.args).slice(1);
    for (const type of ["sensor", "action"] as const) {
      const port = freePort();
      const state = mkdtempSync(join(dir, `${type}-state-`));
      const env = {
        HOME: "/var/lib/stavily",
        STAVILY_API_BASE_URL: `http://127.0.0.1:${orchestratorPort}`,
        STAVILY_AGENT_TOKEN: composeValue(compose.services[type].environment.STAVILY_AGENT_TOKEN),
        STAVILY_HEALTH_PORT: String(port),
      };
      let command = [binary, type, "-c", imageConfigs[type]];
      if (sandboxed) {
        const bin = dirname(binary);
        const configs = dirname(imageConfigs[type]);
        // The root read-only, as `read_only: true` and readOnlyRootFilesystem make it; writable: the volume and /tmp.
        // The binary and the configs are bound again over the fresh /tmp, where a checkout or a test build may live.
        command = ["bwrap", "--die-with-parent", "--ro-bind", "/", "/", "--tmpfs", "/var/lib", "--bind", state, "/var/lib/stavily", "--tmpfs", "/tmp", "--ro-bind", bin, bin, "--ro-bind", configs, configs, "--proc", "/proc", "--dev", "/dev", "--unshare-user", "--uid", "10001", "--gid", "10001", "--", ...command];
      } else {
        console.warn("deployments test: bwrap cannot create a user namespace here; the agents run without a read-only root");
        Object.assign(env, { STAVILY_AGENT_BASE_DIR: state, STAVILY_SECURITY_ALLOW_ROOT: "true" });
      }
      const agent = startProcess(command, { env });
      await agent.waitFor(/health server listening on/);
      const check = healthcheck.map((arg) => arg.replace(":9100", `:${port}`));
      await waitUntil(async () => ((await runCli(check, { binary })).code === 0 ? true : undefined), `${type}: the HEALTHCHECK to pass`);
      const pod = workloads.find((w) => w.metadata.name === `stavily-${type}`).spec.template.spec.containers[0];
      for (const probe of [pod.livenessProbe, pod.readinessProbe]) {
        expect((await fetch(`http://127.0.0.1:${port}${probe.httpGet.path}`)).status).toBe(200);
      }
      if (sandboxed) expect(readdirSync(state)).toContain(`agent-${type}-docker-01`);
      // bwrap does not pass signals on: stop the agent itself, as tini would.
      process.kill(sandboxed ? sandboxedAgent(agent.proc.pid, binary) : agent.proc.pid, "SIGTERM");
      expect(await agent.exited).toBe(0);
      expect((await runCli(check, { binary })).code).toBe(1);
    }
    orch.kill("SIGTERM");
    await orch.exited;
  }, 120_000);
});
