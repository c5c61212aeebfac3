import { parseArgs } from 'node:util'
import { join, resolve } from 'node:path'
import { defineMaster, worker, builder, steps, schedulers, createMaster } from '../core/index.ts'
import { resolveConfig } from '../core/config/resolve.ts'

const { values } = parseArgs({
  options: {
    'www-port': { type: 'string' }, 'worker-port': { type: 'string' }, workers: { type: 'string', default: '1' },
    basedir: { type: 'string', default: '.' }, protocol: { type: 'string' },
  },
})
const n = Number(values.workers)
const names = Array.from({ length: n }, (_, i) => `w${i}`)
const basedir = resolve(values.basedir!)

const config = await resolveConfig(defineMaster({
  title: 'baseline',
  basedir,
  db: 'sqlite:state.sqlite',
  logLevel: 'warn',
  collapseRequests: false,
  www: { host: '127.0.0.1', port: Number(values['www-port']) },
  protocols: { msgpack: { port: Number(values['worker-port']), host: '127.0.0.1' } },
  workers: names.map((name) => worker({ name, password: 'pass' })),
  builders: [
    builder({ name: 'bench', workers: names, steps: [steps.shell({ name: 'true', command: ['true'] })] }),
    builder({ name: 'fanout-child', workers: names, steps: [steps.shell({ name: 'true', command: ['true'] })] }),
    builder({
      name: 'fanout-parent', workers: names,
      steps: [steps.trigger({
        name: 'fanout', waitForFinish: true,
        schedulersAndProperties: (ctx) => Array.from({ length: Number(ctx.getProperty('fanout') ?? 0) }, (_, i) => ({ scheduler: 'child-trigger', properties: { attr: `job${i}` } })),
      })],
    }),
  ],
  schedulers: [
    schedulers.force({ name: 'force', builderNames: ['bench'] }),
    schedulers.force({ name: 'force-parent', builderNames: ['fanout-parent'], params: { fanout: schedulers.params.int({ default: 0 }) } }),
    schedulers.triggerable({ name: 'child-trigger', builderNames: ['fanout-child'] }),
  ],
}), join(basedir, 'master.config.ts'))

const master = createMaster({ config })
await master.start()
const stop = async () => { await master.stop(); process.exit(0) }
process.once('SIGTERM', () => void stop())
process.once('SIGINT', () => void stop())
