/** The one place the agent's health and metrics servers touch Bun.serve. */
import { errorMessage, StavilyError } from "../errors.ts";

export interface ServeOptions {
  hostname: string;
  /** 0 picks a free port; read it back from `url`. */
  port: number;
  /** The config key of the port, named in the error when it is taken (health.port, metrics.port). */
  portKey: string;
  /** Called with what Bun knows of the connection, as the Hono env (see ServeEnv). */
  fetch: (request: Request, env: ServeEnv) => Response | Promise<Response>;
}

/** The env every request of these servers gets: the peer's address, and a way to outlive the idle timeout. */
export interface ServeEnv {
  /** The client's IP address (Bun's server.requestIP), undefined when Bun cannot tell. */
  remoteAddress?: string;
  /** Lets this request run silent for up to `seconds`: Bun otherwise resets it after 10 s (its default idleTimeout). */
  allowIdle?: (seconds: number) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export function serve(options: ServeOptions): RunningServer {
  let server: Bun.Server<undefined>;
  try {
    server = Bun.serve({
      hostname: options.hostname,
      port: options.port,
      fetch: (request, self) =>
        options.fetch(request, { remoteAddress: self.requestIP(request)?.address, allowIdle: (seconds) => self.timeout(request, seconds) }),
      reusePort: false,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${options.hostname}:${options.port}`;
    if (code === "EADDRINUSE") {
      throw new StavilyError("server", `${options.portKey}: ${where} is already in use (another agent on this machine?); set ${options.portKey} to 0 to pick a free port, or choose another port`, {
        cause: error,
      });
    }
    throw new StavilyError("server", `${options.portKey}: cannot listen on ${where}: ${errorMessage(error)}`, { cause: error });
  }
  const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
  return {
    url: `http://${host}:${server.port}`,
    port: server.port!,
    stop: () => server.stop(true),
  };
}
