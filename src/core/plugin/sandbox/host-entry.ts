/**
 * The plugin host when Stavily runs from source (`bun src/cli.ts …`): what `stavily plugin-host` runs
 * in the compiled binary. Not a build entrypoint; started only by ./_self.ts.
 */
import { runPluginHost } from "./_host-process.ts";

await runPluginHost();
