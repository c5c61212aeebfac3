// Runs a master from a config file in its own process, for tests that kill it (`kill -9`).
// Usage: node --import tsx test/core/master-child.ts <config> [builder] [count]
// With a builder and count, adds `count` buildsets for it, and prints `{"ready":...}` once the
// first build runs and the rest are queued.
import { loadConfig } from '../../core/config/load.ts'
import { createMaster } from '../../core/master.ts'

const [file, builderName, count] = process.argv.slice(2)
const master = createMaster({ config: await loadConfig(file!) })
await master.start()
if (builderName) {
  const builderid = master.brd.builder(builderName)!.builderid
  const firstBuild = master.bus.once('builds/*/new')
  const added = await master.data.buildsets.addBuildsets(Array.from({ length: Number(count ?? 1) }, (_, i) => ({
    reason: `queued ${i}`, builderids: [builderid], sourcestamps: [{ branch: 'main', revision: null, repository: '', codebase: '', project: '' }],
  })))
  await firstBuild
  const brids = added.map((a) => a.brids[builderid])
  process.stdout.write(JSON.stringify({ ready: true, brids, pid: process.pid }) + '\n')
} else {
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n')
}
process.on('SIGTERM', () => { void master.stop().then(() => process.exit(0)) })
