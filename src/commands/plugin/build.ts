/**
 * `stavily plugin build <dir>`: bundles a bun plugin with its npm dependencies into one file beside
 * its entry, with the installer's bundler, so what is tested is what installs. The author's folder
 * keeps its node_modules: the bundling happens in a copy and only the bundle is written back.
 */
import { mkdtempSync, rmSync } from "node:fs";
import fs from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { EXIT } from "../../core/errors.ts";
import { loadManifest } from "../../core/plugin/manifest/index.ts";
import { existingDir } from "./_common.ts";
import { bundleInCopy } from "./_local.ts";

export async function buildCommand(dir: string): Promise<number> {
  const root = existingDir(dir);
  const manifest = loadManifest(root);
  if (manifest.runtime.type !== "bun") {
    console.log(`nothing to build: ${manifest.id} runs on ${manifest.runtime.type}; install copies it as it is`);
    return EXIT.ok;
  }
  const work = mkdtempSync(path.join(tmpdir(), "stavily-build-"));
  try {
    const bundle = await bundleInCopy(manifest, work);
    if (!bundle) {
      console.log(`nothing to build: ${manifest.id} has no dependencies in package.json; install copies it as it is`);
      return EXIT.ok;
    }
    const out = path.join(root, bundle.entry);
    await fs.copyFile(path.join(bundle.root, bundle.entry), out);
    console.log(path.relative(process.cwd(), out) || out);
    return EXIT.ok;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
