import { parseArgs } from 'node:util'
import { instantiateEffects, listEffects, listSchedules } from './discover.ts'
import { herculesArgs, repoBaseName, type RepoContext } from './hercules-args.ts'
import { flakeRefRepo, localRepo, type LocalRepo } from './repo-context.ts'
import { runEffect } from './run-effect.ts'
import { readSecretsFile, selectSecrets, type SecretEntry } from './secrets.ts'
import { whenToCron } from './schedule.ts'

const COMMON = `Options (before or after the command):
  --path DIR                 the flake's checkout (default: .); a subdirectory of a git tree works
  --rev REV                  the commit (default: the tip of --branch, else HEAD)
  --branch NAME              the branch the effects see (default: the checked-out branch)
  --repo OWNER/NAME          the repository's name (default: from the origin remote, else the directory)
  --extra-sandbox-path PATH  bind a host path read-only into the sandbox (repeatable)
  --debug                    print the sandbox command and nix's messages
  -h, --help                 this help`

const HELP: Record<string, string> = {
  '': `Usage: buildbot-effects [options] <command> [arguments]

Runs Hercules CI effects of a flake (\`herculesCI\`, else \`effects\`) in a bubblewrap sandbox.

Commands:
  list [FLAKEREF]                        the effects of onPush.default, as JSON
  run EFFECT | FLAKEREF#EFFECT           run one effect
  run-all [FLAKEREF]                     run every effect, one after another
  list-schedules [FLAKEREF]              onSchedule: when each runs and its effects, as JSON
  run-scheduled SCHEDULE | FLAKEREF#SCHEDULE EFFECT
                                         run one effect of a schedule

Run 'buildbot-effects <command> --help' for a command's options.

${COMMON}`,
  list: `Usage: buildbot-effects [options] list [FLAKEREF]

Prints the names of the effects in herculesCI.onPush.default.outputs.effects as a JSON list.

${COMMON}`,
  run: `Usage: buildbot-effects [options] run EFFECT | FLAKEREF#EFFECT

Builds the effect's inputs and runs it in the sandbox; exits with the effect's exit code.

${COMMON}
  --secrets FILE             secrets in Hercules CI's format ({"name": {"kind": "Secret", "data": {...},
                             "condition": ...}}); the effect gets those its secretsMap names, at
                             /run/secrets.json ($HERCULES_CI_SECRETS_JSON)`,
  'run-all': `Usage: buildbot-effects [options] run-all [FLAKEREF]

Runs every effect of onPush.default, one after another; exits 1 if any failed.

${COMMON}
  --secrets FILE             secrets in Hercules CI's format (see 'run --help')`,
  'list-schedules': `Usage: buildbot-effects [options] list-schedules [FLAKEREF]

Prints herculesCI.onSchedule as JSON: {"<schedule>": {"when": {...}, "effects": [...], "cron": "m h dom mon dow"}}
(UTC; an unset minute or hour is derived from the schedule's name).

${COMMON}`,
  'run-scheduled': `Usage: buildbot-effects [options] run-scheduled SCHEDULE | FLAKEREF#SCHEDULE EFFECT

Runs one effect of herculesCI.onSchedule.<SCHEDULE>.outputs.effects.

${COMMON}
  --secrets FILE             secrets in Hercules CI's format (see 'run --help')`,
}

class UsageError extends Error {}

/** `github:o/r/branch#deploy` → ['github:o/r/branch', 'deploy']; a bare name has no reference. */
export function splitFlakeRef(s: string): { ref?: string; name: string } {
  const i = s.lastIndexOf('#')
  if (i < 0) return { name: s }
  const ref = s.slice(0, i)
  const name = s.slice(i + 1)
  if (!ref || !name) throw new UsageError(`'${s}' is not FLAKEREF#NAME`)
  return { ref, name }
}

interface Io { out(text: string): void; err(text: string): void }

/** The `buildbot-effects` command line; returns the exit code. */
export async function main(argv: string[], io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        path: { type: 'string' }, rev: { type: 'string' }, branch: { type: 'string' }, repo: { type: 'string' },
        secrets: { type: 'string' }, 'extra-sandbox-path': { type: 'string', multiple: true }, debug: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (e) {
    io.err(`buildbot-effects: ${(e as Error).message}\n\n${HELP['']}\n`)
    return 2
  }
  const { values: v, positionals } = parsed
  const [cmd, ...rest] = positionals
  if (v.help || cmd === 'help') {
    const topic = cmd === 'help' ? rest[0] ?? '' : cmd ?? ''
    io.out((HELP[topic] ?? HELP['']!) + '\n')
    return 0
  }
  if (!cmd || !(cmd in HELP)) {
    io.err(`buildbot-effects: ${cmd ? `unknown command '${cmd}'` : 'no command given'}\n\n${HELP['']}\n`)
    return 2
  }
  const env = process.env
  const onStderr = v.debug ? (t: string) => io.err(t) : undefined
  try {
    const resolveRepo = (ref: string | undefined): Promise<LocalRepo> =>
      ref ? flakeRefRepo(ref, { rev: v.rev, branch: v.branch, repo: v.repo }, env) : localRepo({ path: v.path ?? '.', rev: v.rev, branch: v.branch, repo: v.repo })
    const want = (n: number, what: string): void => {
      if (rest.length !== n) throw new UsageError(`'${cmd}' takes ${what}\n\n${HELP[cmd]}`)
    }
    if (v.secrets && !['run', 'run-all', 'run-scheduled'].includes(cmd)) throw new UsageError(`--secrets is for run, run-all and run-scheduled`)
    switch (cmd) {
      case 'list': case 'list-schedules': {
        if (rest.length > 1) want(1, 'at most one FLAKEREF')
        const repo = await resolveRepo(rest[0])
        const args = herculesArgs(repo.context)
        if (cmd === 'list') io.out(JSON.stringify(await listEffects(repo, args, { env, onStderr }), null, 2) + '\n')
        else {
          const s = await listSchedules(repo, args, { env, onStderr })
          const out = Object.fromEntries(Object.entries(s).map(([name, x]) => [name, { ...x, cron: whenToCron(name, x.when).cron ?? null }]))
          io.out(JSON.stringify(out, null, 2) + '\n')
        }
        return 0
      }
      case 'run': case 'run-all': case 'run-scheduled': {
        let ref: string | undefined
        let names: string[] | undefined
        let schedule: string | undefined
        if (cmd === 'run') { want(1, 'one EFFECT or FLAKEREF#EFFECT'); const s = splitFlakeRef(rest[0]!); ref = s.ref; names = [s.name] }
        else if (cmd === 'run-all') { if (rest.length > 1) want(1, 'at most one FLAKEREF'); ref = rest[0] }
        else { want(2, 'SCHEDULE (or FLAKEREF#SCHEDULE) and EFFECT'); const s = splitFlakeRef(rest[0]!); ref = s.ref; schedule = s.name; names = [rest[1]!] }
        const repo = await resolveRepo(ref)
        const drvs = await instantiateEffects(repo, herculesArgs(repo.context), { env, onStderr, names, schedule })
        const file: Record<string, SecretEntry> | undefined = v.secrets ? await readSecretsFile(v.secrets) : undefined
        let failed = 0
        let last = 0
        for (const [name, drvPath] of Object.entries(drvs)) {
          if (cmd === 'run-all') io.err(`=== ${name}\n`)
          const r = await runOne(repo.context, drvPath, file, v.secrets ?? '', v['extra-sandbox-path'] ?? [], !!v.debug, env, io)
          last = r
          if (r !== 0) { failed++; io.err(`effect ${name} failed (exit code ${r})\n`) }
        }
        return cmd === 'run-all' ? (failed ? 1 : 0) : last
      }
    }
    return 2
  } catch (e) {
    if (e instanceof UsageError) { io.err(`buildbot-effects: ${e.message}\n`); return 2 }
    io.err(`buildbot-effects: ${(e as Error).message}\n`)
    return 1
  }
}

async function runOne(c: RepoContext, drvPath: string, file: Record<string, SecretEntry> | undefined, source: string, extra: string[], debug: boolean, env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const r = await runEffect({
    drvPath, extraSandboxPaths: extra, projectId: c.name, projectPath: `${c.forgeType ?? 'git'}/${c.name}`, nixEnv: env, debug,
    secrets: (map) => selectSecrets({
      available: file, source, map, trusted: true,
      ctx: { branch: c.branch, tag: c.tag, isDefaultBranch: c.isDefaultBranch, repo: repoBaseName(c.name), owner: c.owner },
    }),
    onOutput: (t, s) => (s === 'o' ? io.out(t) : io.err(t)),
  })
  return r.exitCode ?? 1
}
