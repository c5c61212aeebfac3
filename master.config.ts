import { resolve } from 'node:path'
import { defineMaster, localWorker } from './core/index.ts'
import { nix, ensureDemoFlake } from './plugins/nix/index.ts'

// The example master that `npm start` runs (from the project root): a demo flake repository
// created on first run under state/demo-flake, polled every 10 s and built on a local worker;
// the UI is served on http://127.0.0.1:8010/. Commit to state/demo-flake to see a new build.
const demo = await ensureDemoFlake(resolve(process.env.BUILDBOT_NIX_DEMO_DIR ?? 'state/demo-flake'))

export default defineMaster({
  title: 'buildbot-nix example',
  db: 'sqlite:db/state.sqlite',
  www: { host: '127.0.0.1', port: 8010 },
  // Nix children mostly wait on a shared nix process, so the worker may run many at once.
  workers: [localWorker({ name: 'local', maxBuilds: 32 })],
  plugins: [
    nix({
      workers: ['local'],
      projects: [{ name: 'demo/flake', url: demo, defaultBranch: 'main', pollInterval: 10 }],
    }),
  ],
})
