import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { localWorker, builder, steps, schedulers, changes, SUCCESS } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { haveTool } from '../support/tools.ts'

const git = (cwd: string, ...args: string[]) => execa('git', args, { cwd, env: { GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@x' } })

async function commit(repo: string, file: string, text: string, msg: string): Promise<string> {
  writeFileSync(join(repo, file), text)
  await git(repo, 'add', file)
  await git(repo, 'commit', '-q', '-m', msg)
  return (await git(repo, 'rev-parse', 'HEAD')).stdout.trim()
}

/** Every file under the mirror's object store, with its inode (to tell kept files from rewritten ones). */
function objectFiles(mirror: string): Map<string, number> {
  const out = new Map<string, number>()
  const walk = (d: string) => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); if (e.isDirectory()) walk(p); else out.set(p, statSync(p).ino) } }
  walk(join(mirror, 'objects'))
  return out
}

async function nextBuild(h: MasterHarness): Promise<{ buildid: number; props: Record<string, [unknown, string]>; results: number }> {
  const made = await h.waitFor<{ buildid: number }>('builds/*/new', () => true, 60_000)
  const fin = await h.waitFor<{ buildid: number; results: number }>('builds/*/finished', (m) => m.buildid === made.buildid, 60_000)
  const b = await h.master.data.builds.getBuild(made.buildid)
  return { buildid: made.buildid, props: b!.properties, results: fin.results }
}

const enabled = haveTool('git', 'apt-get install git')

eachDb(enabled ? test : test.skip, 'git poller + steps.git: each commit becomes a build of that revision; the mirror is reused', async (start) => {
  const repo = mkdtempSync(join(tmpdir(), 'bbn-repo-'))
  try {
    await git(repo, 'init', '-q', '-b', 'main')
    const c1 = await commit(repo, 'a.txt', 'one\n', 'first')
    const h = await start({
      workers: [localWorker({ name: 'local' })],
      changeSources: [changes.gitPoller({ repourl: repo, branches: ['main'], pollInterval: 1 })],
      builders: [builder({ name: 'checkout', workers: ['local'], steps: [
        steps.git({ repourl: repo }),
        steps.setPropertyFromCommand({ name: 'read', command: ['cat', 'a.txt'], property: 'content' }),
      ] })],
      schedulers: [schedulers.singleBranch({ name: 'on-main', builderNames: ['checkout'], changeFilter: { branch: 'main' } })],
    })
    const first = await nextBuild(h)
    assert.is(first.results, SUCCESS)
    assert.equal(first.props.got_revision, [c1, 'Git'])
    assert.equal(first.props.revision?.[0], c1)
    assert.equal(first.props.content, ['one', 'SetPropertyFromCommand Step'])
    const ch = await h.master.data.db.k.selectFrom('changes').selectAll().execute()
    assert.equal(ch.map((c) => [c.revision, c.branch, c.comments]), [[c1, 'main', 'first']])

    const mirrors = join(h.basedir, 'workers', 'local', '.git-mirrors')
    const [mirrorName] = readdirSync(mirrors).filter((n) => n.endsWith('.git'))
    assert.ok(mirrorName, 'a per-repository mirror exists')
    const mirror = join(mirrors, mirrorName!)
    const before = objectFiles(mirror)
    const checkout = join(h.basedir, 'workers', 'local', 'checkout', 'build')
    assert.is(readFileSync(join(checkout, '.git', 'objects', 'info', 'alternates'), 'utf8').trim(), join(mirror, 'objects'))

    const c2 = await commit(repo, 'a.txt', 'two\n', 'second')
    const second = await nextBuild(h)
    assert.is(second.results, SUCCESS)
    assert.equal(second.props.got_revision, [c2, 'Git'])
    assert.equal(second.props.content, ['two', 'SetPropertyFromCommand Step'])
    assert.equal(readdirSync(mirrors).filter((n) => n.endsWith('.git')), [mirrorName], 'the same mirror is used again')
    // Incremental: every object file of the first fetch is still there, untouched, and the new
    // files hold just the objects the second commit added.
    const after = objectFiles(mirror)
    for (const [p, ino] of before) assert.is(after.get(p), ino, `${p} was rewritten`)
    const added = [...after.keys()].filter((p) => !before.has(p) && /objects\/[0-9a-f]{2}\//.test(p)).map((p) => p.split('/').slice(-2).join(''))
    const expected = (await git(repo, 'rev-list', '--objects', `${c1}..${c2}`)).stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean)
    assert.equal(added.sort(), expected.sort())
    // The build's checkout borrows objects: it stores none itself.
    const own = join(checkout, '.git', 'objects')
    const ownObjects = readdirSync(own).filter((n) => /^[0-9a-f]{2}$/.test(n) || (n === 'pack' && readdirSync(join(own, 'pack')).length))
    assert.equal(ownObjects, [])
    assert.ok(existsSync(join(h.basedir, 'changesources')))
  } finally { rmSync(repo, { recursive: true, force: true }) }
}, testDatabases())

test.run()
