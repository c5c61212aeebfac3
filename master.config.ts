import { defineMaster, localWorker, builder, steps, schedulers } from './core/index.ts'

// The example master that `npm start` runs: one local worker, served on 127.0.0.1:8010.
export default defineMaster({
  title: 'buildbot-nix example',
  db: 'sqlite:db/state.sqlite',
  www: { host: '127.0.0.1', port: 8010 },
  workers: [localWorker({ name: 'local' })],
  builders: [
    builder({ name: 'hello', workers: ['local'], steps: [steps.shell({ name: 'say hello', command: ['echo', 'hello from buildbot-nix'] })] }),
  ],
  schedulers: [schedulers.force({ name: 'force-hello', builderNames: ['hello'] })],
})
