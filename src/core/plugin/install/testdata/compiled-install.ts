/** Compiled into a standalone executable by bundle.test.ts: installs `<source dir>` into `<plugins dir>`. */
import { installPlugin } from "../index.ts";
import { validate } from "../_testkit.ts";

const [source, pluginsDir] = process.argv.slice(2);
if (source === undefined || pluginsDir === undefined) throw new Error("usage: compiled-install <source dir> <plugins dir>");
const installed = await installPlugin({ type: "directory", path: source }, { pluginsDir, validate });
console.log(JSON.stringify(installed));
