#!/usr/bin/env node
// Compiles a master.config.ts into one ESM file whose imports of buildbot-nix's core point at the
// running core bundle. Runs as a short-lived child so esbuild never lives in the master process.
// Usage: compile-config.mjs <config.ts> <out.mjs> <core-bundle.mjs> <core/index.ts>
import { dirname, relative, resolve } from 'node:path'
import { isBuiltin } from 'node:module'
import { build } from 'esbuild'

const [file, out, coreBundle, coreEntry] = process.argv.slice(2)
const root = dirname(dirname(coreEntry))
// Outside the package (its files read-only), packages are imported by absolute path, since
// node looks for node_modules beside the importing file.
const outsidePackage = relative(root, out).startsWith('..')
try {
  await build({
    entryPoints: [file], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: outsidePackage ? undefined : 'external', outfile: out, logLevel: 'silent',
    plugins: [{
      name: 'shared-core',
      setup(b) {
        b.onResolve({ filter: /^buildbot-nix$/ }, () => ({ path: coreBundle, external: true }))
        // First-party plugins by package name (`buildbot-nix/plugins/nix`) are bundled from this checkout.
        b.onResolve({ filter: /^buildbot-nix\/plugins\/[a-z0-9-]+$/ }, (args) => ({ path: resolve(dirname(dirname(coreEntry)), args.path.slice('buildbot-nix/'.length), 'index.ts') }))
        b.onResolve({ filter: /core\/index(\.ts)?$/ }, (args) => {
          const target = resolve(args.resolveDir, args.path.endsWith('.ts') ? args.path : `${args.path}.ts`)
          return target === coreEntry ? { path: coreBundle, external: true } : undefined
        })
        if (outsidePackage) {
          b.onResolve({ filter: /^[^./]/ }, async (args) => {
            if (args.pluginData?.absolute || isBuiltin(args.path)) return args.pluginData?.absolute ? undefined : { path: args.path, external: true }
            const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir || root, pluginData: { absolute: true } })
            return r.errors.length ? undefined : { path: r.path, external: true }
          })
        }
      },
    }],
  })
} catch (err) {
  const msgs = err.errors?.map((e) => `${e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ` : ''}${e.text}`) ?? [String(err)]
  process.stderr.write(msgs.join('\n') + '\n')
  process.exit(1)
}
