#!/usr/bin/env node
// Bundles the CLI into dist/cli.mjs so `bin/nightshift` starts without the TypeScript loader:
// measured here, the loader alone cost ~0.5-0.8 s and ~40 MB per command. Dependencies stay
// external (native modules, and packages resolved from node_modules as usual). Runs on
// `npm install` (prepare); when it cannot run, bin/nightshift falls back to the sources.
import { build } from 'esbuild';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
try {
  await build({
    absWorkingDir: root,
    entryPoints: ['src/interfaces/cli/main.ts'],
    outdir: 'dist',
    entryNames: 'cli',
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    // Lazily imported command trees (backup, mcp) become chunks, so their packages load only when used.
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
} catch (err) {
  process.stderr.write(
    `nightshift: bundling the CLI failed (${err.message}); bin/nightshift will run from the sources\n`,
  );
}
