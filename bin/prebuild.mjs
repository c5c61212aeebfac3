#!/usr/bin/env node
// Builds the bundle of every command of package.json's "bin" ahead of time, for installs whose
// files are read-only at run time (a Nix store path): `node bin/prebuild.mjs` in the package root.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildBundle, bundlePath } from './launch.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bins = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin ?? {}
for (const file of Object.values(bins)) {
  const entry = /launch\('([^']+)'/.exec(readFileSync(join(root, file), 'utf8'))?.[1]
  if (!entry) continue
  await buildBundle(entry)
  console.log(`${file}: ${bundlePath(entry)}`)
}
