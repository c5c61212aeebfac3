import { parseArgs } from 'node:util'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { resolve, join } from 'node:path'
import { projectRoot } from '../util/project-root.ts'
import { importTsModule, loadConfig } from '../config/load.ts'
import type { PluginFactory } from '../plugin/plugin.ts'
import { ConfigError } from '../config/errors.ts'
import { createMaster } from '../master.ts'
import { hashPassword } from '../http/auth/password.ts'

const HELP: Record<string, string> = {
  main: `Usage: buildbot-nix <command> [options]

Commands:
  start          run the master (default config: ./master.config.ts)
  checkconfig    load and check the config, print every mistake, exit 1 if any
  reconfig       ask the running master to reload its config (SIGHUP)
  hash-password  print a password hash for www.auth.users
  config-schema  print the JSON Schema of the config and the first-party plugins' options

Run 'buildbot-nix <command> --help' for a command's options.`,
  start: `Usage: buildbot-nix start [--config FILE]

Runs the master in the foreground. SIGHUP reloads the config (only what changed is
restarted; running builds go on). SIGINT/SIGTERM stop it; running builds are re-queued.

Options:
  -c, --config FILE   the master config (default: master.config.ts)
  -h, --help          this text`,
  checkconfig: `Usage: buildbot-nix checkconfig [--config FILE]

Loads the config and prints every mistake (file, key path, fix). Exits 1 if there is any.

Options:
  -c, --config FILE   the master config (default: master.config.ts)
  -h, --help          this text`,
  reconfig: `Usage: buildbot-nix reconfig [--config FILE]

Checks the config, then asks the master running from it (its pid is in <basedir>/master.pid) to
reload it. Only what changed is restarted; running builds go on.

Options:
  -c, --config FILE   the master config (default: master.config.ts)
  -h, --help          this text`,
  'config-schema': `Usage: buildbot-nix config-schema [--config FILE]

Prints the JSON Schema of the master config (defineMaster({...})) with the options of every
first-party plugin (in plugins: { plugin: 'nix', options: {...} } stands for nix({...})). A
NixOS module or an editor can check a generated config against it.

Options:
  -c, --config FILE   also describe the plugins this config uses (third-party ones included)
  -h, --help          this text`,
  'hash-password': `Usage: buildbot-nix hash-password PASSWORD

Prints a hash to put in www.auth.users in master.config.ts.`,
}


export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h' || command === 'help') { console.log(HELP.main); return command ? 0 : 1 }
  if (!(command in HELP) || command === 'main') { console.error(`unknown command '${command}'\n\n${HELP.main}`); return 1 }
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } })
  if (values.help) { console.log(HELP[command]); return 0 }
  if (command === 'hash-password') {
    if (!positionals[0]) { console.error(HELP['hash-password']); return 1 }
    console.log(hashPassword(positionals[0]))
    return 0
  }
  if (command === 'config-schema') {
    const { configJsonSchema } = await import('../config/json-schema.ts')
    const mod = await importTsModule(join(projectRoot(import.meta.url), 'plugins', 'first-party.ts'))
    const defs = ((mod.firstPartyPlugins ?? []) as PluginFactory<never, unknown>[]).map((f) => f.definition)
    if (values.config) {
      const file = resolve(values.config)
      let cfg: { plugins?: unknown }
      try {
        const m = await importTsModule(file)
        cfg = ((m.default as { default?: unknown } | undefined)?.default ?? m.default ?? {}) as { plugins?: unknown }
      } catch (err) { console.error(`${file}: failed to load: ${(err as Error).message.split('\n')[0]}`); return 1 }
      for (const use of Array.isArray(cfg.plugins) ? cfg.plugins as { definition?: PluginFactory<never, unknown>['definition'] }[] : []) {
        if (use?.definition && !defs.some((d) => d.name === use.definition!.name)) defs.push(use.definition)
      }
    }
    console.log(JSON.stringify(configJsonSchema(defs), null, 2))
    return 0
  }
  const file = resolve(values.config ?? 'master.config.ts')
  let config
  try {
    config = await loadConfig(file)
  } catch (err) {
    if (err instanceof ConfigError) { for (const l of err.lines) console.error(l); console.error(`${err.lines.length} error(s); the master was not started`) }
    else console.error(`${file}: ${(err as Error).stack}`)
    return 1
  }
  if (command === 'reconfig') {
    const pidFile = join(config.basedir, 'master.pid')
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN
    if (!Number.isInteger(pid)) { console.error(`no running master found (${pidFile} is missing); start it with 'buildbot-nix start'`); return 1 }
    try { process.kill(pid, 'SIGHUP') } catch { console.error(`the master (pid ${pid}) is not running; start it with 'buildbot-nix start'`); return 1 }
    console.log(`asked the master (pid ${pid}) to reload ${file}`)
    return 0
  }
  if (command === 'checkconfig') {
    const planned = config.plannedParts
    const count = (k: 'builders' | 'schedulers') => planned.reduce((n, p) => n + (p.group[k]?.length ?? 0), 0)
    const runtime = planned.length ? `; plugins add ${count('builders')} builders and ${count('schedulers')} schedulers in ${planned.length} runtime group${planned.length === 1 ? '' : 's'} at start` : ''
    console.log(`${file}: config OK (${config.builders.length} builders, ${config.schedulers.length} schedulers, ${config.workers.length} workers${runtime})`)
    return 0
  }

  const uiDir = join(config.basedir, 'ui')
  const master = createMaster({ config, uiDir })
  try {
    await master.start()
  } catch (err) {
    master.log.fatal({ err: (err as Error).message }, 'master failed to start')
    await master.stop().catch(() => {})
    return 1
  }
  const pidFile = join(config.basedir, 'master.pid')
  mkdirSync(config.basedir, { recursive: true })
  writeFileSync(pidFile, `${process.pid}\n`)
  void buildUiBundle(uiDir).then(
    (built) => { if (built) master.log.info({ dir: uiDir }, 'web UI built') },
    (err) => master.log.warn({ err: (err as Error).message }, 'web UI could not be built; the API works without it'))
  process.on('SIGHUP', () => {
    master.reconfigure().catch((err) => {
      const lines = err instanceof ConfigError ? err.lines : [(err as Error).message]
      master.log.error({ errors: lines }, 'reconfigure refused; the running configuration stays')
    })
  })
  await new Promise<void>((res) => {
    const stop = () => { master.log.info('stopping'); res() }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await master.stop()
  rmSync(pidFile, { force: true })
  return 0
}

/** Builds the Lit UI bundle into `outDir` (in a child process, so the master stays small). */
async function buildUiBundle(outDir: string): Promise<boolean> {
  const root = projectRoot(import.meta.url)
  const entry = join(root, 'ui', 'build.ts')
  if (!existsSync(entry)) return false
  const { execa } = await import('execa')
  await execa(process.execPath, ['--import', 'tsx', entry, outDir], { cwd: root })
  return true
}
