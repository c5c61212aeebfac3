import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, defineMaster, localWorker, secretsFromDir, worker, z, type MasterConfig, type PluginUse, type WwwInput } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { github } from '../../plugins/github/index.ts'
import { gitea } from '../../plugins/gitea/index.ts'
import { auth } from '../../plugins/auth/index.ts'
import { oauth2Proxy } from '../../plugins/auth-oauth2-proxy/index.ts'
import { effects } from '../../plugins/effects/index.ts'
import { pullBased } from '../../plugins/pull-based/index.ts'
import { binaryCaches } from '../../plugins/cachix/index.ts'
import { nixosOptionsSchema, type NixosOptions } from './nixos-options.ts'

export interface NixosEnvironment {
  /** Folder of the credential files (systemd's `$CREDENTIALS_DIRECTORY`). */
  credentialsDirectory?: string
  /** The master's state folder (systemd's `StateDirectory`). */
  stateDirectory?: string
}

const workersFileSchema = z.array(z.strictObject({
  name: z.string().min(1),
  pass: z.string().min(1),
  cores: z.number().int().min(1).max(4096),
}))

/**
 * The master configuration for the options the NixOS module wrote to `file`. The generated
 * master.config.ts is `export default await masterFromNixosOptions('<file>')`.
 */
export async function masterFromNixosOptions(file: string, env: NixosEnvironment = {
  credentialsDirectory: process.env.CREDENTIALS_DIRECTORY,
  stateDirectory: process.env.STATE_DIRECTORY ?? process.env.BUILDBOT_NIX_STATE_DIR,
}): Promise<MasterConfig> {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ConfigError(file, [], [`${file}: cannot read the NixOS module's options: ${(err as Error).message}`])
  }
  const parsed = nixosOptionsSchema.safeParse(raw)
  if (!parsed.success) {
    throw new ConfigError(file, [], parsed.error.issues.map((i) =>
      `${file}: services.buildbot-nix.master.${i.path.join('.')}: ${i.message} (this file is written by the NixOS module; check the option's value)`))
  }
  return masterConfigOf(parsed.data, file, env)
}

/** Builds the master configuration from checked options (exported for tests). */
export function masterConfigOf(o: NixosOptions, file: string, env: NixosEnvironment): MasterConfig {
  const credential = (name: string): string => {
    if (!env.credentialsDirectory) {
      throw new ConfigError(file, [], [`${file}: CREDENTIALS_DIRECTORY is not set, so the secret '${name}' cannot be read: run the master from its systemd unit (LoadCredential=) or set CREDENTIALS_DIRECTORY to a folder holding the credential files`])
    }
    return join(env.credentialsDirectory, name)
  }
  const readCredential = (name: string): string => {
    const path = credential(name)
    try {
      return readFileSync(path, 'utf8')
    } catch (err) {
      throw new ConfigError(file, [], [`${file}: cannot read the credential '${name}' (${path}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`])
    }
  }

  const workersJson = (() => {
    try {
      return workersFileSchema.parse(JSON.parse(readCredential(o.workersFile)))
    } catch (err) {
      if (err instanceof ConfigError) throw err
      throw new ConfigError(file, [], [`${file}: services.buildbot-nix.master.workersFile must be JSON like [{ "name": "eve", "pass": "…", "cores": 16 }]: ${err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message}`])
    }
  })()
  // As buildbot-nix: a machine with `cores` N runs N worker processes named <name>-000 … <name>-(N-1).
  const workers = workersJson.flatMap((w) => Array.from({ length: w.cores }, (_, i) => worker({ name: `${w.name}-${String(i).padStart(3, '0')}`, password: w.pass })))
  if (workers.length === 0) throw new ConfigError(file, [], [`${file}: services.buildbot-nix.master.workersFile lists no workers; add one entry per worker machine`])

  const scheme = o.useHTTPS ? 'https' : 'http'
  const optionalCredential = (name: string | null) => (name === null ? undefined : credential(name))
  const plugins: PluginUse<any>[] = [
    nix({
      workers: workers.map((w) => w.name),
      projects: [],
      buildSystems: o.buildSystems.length ? o.buildSystems : undefined,
      evalWorkerCount: o.evalWorkerCount ?? undefined,
      evalMaxMemorySize: o.evalMaxMemorySize,
      buildTimeout: o.buildTimeout,
      maxSilentTime: o.buildMaxSilentTime,
      outputsPath: o.outputsPath ?? undefined,
      cacheFailedBuilds: o.cacheFailedBuilds,
      failedBuildReportLimit: o.failedBuildReportLimit,
      branches: o.branches,
    }),
    // As buildbot-nix: effects of every project; the secrets files are systemd credentials. They
    // run in bubblewrap on the master's machine (its `local` worker), where the secrets are.
    effects({
      perRepoSecretFiles: Object.fromEntries(Object.entries(o.effects.perRepoSecretFiles).map(([key, name]) => [key, credential(name)])),
      extraSandboxPaths: o.effects.extraSandboxPaths,
      workers: ['local'],
    }),
  ]
  if (Object.keys(o.pullBased.repositories).length) {
    plugins.push(pullBased({
      repositories: Object.fromEntries(Object.entries(o.pullBased.repositories).map(([name, r]) => [name, {
        url: r.url, defaultBranch: r.defaultBranch, pollInterval: r.pollInterval,
        sshPrivateKeyFile: optionalCredential(r.sshPrivateKeyFile) ?? null, sshKnownHostsFile: r.sshKnownHostsFile,
      }])),
      pollInterval: o.pullBased.pollInterval,
      pollSpread: o.pullBased.pollSpread,
    }))
  }
  if (o.cachix || o.niks3 || o.postBuildSteps.length) {
    plugins.push(binaryCaches({
      cachix: o.cachix ? { name: o.cachix.name, auth: 'authToken' in o.cachix.auth ? { authToken: { file: credential(o.cachix.auth.authToken.file) } } : { signingKey: { file: credential(o.cachix.auth.signingKey.file) } } } : undefined,
      niks3: o.niks3 ? { serverUrl: o.niks3.serverUrl, authTokenFile: credential(o.niks3.authTokenFile) } : undefined,
      // A string command went through a shell in buildbot-nix; here the plugin asks for a list.
      postBuildSteps: o.postBuildSteps.length ? o.postBuildSteps.map((step) => ({ name: step.name, command: step.command as never, environment: step.environment, warnOnly: step.warnOnly })) : undefined,
    }))
  }
  if (o.github) {
    plugins.push(github({
      appId: o.github.appId,
      appSecretKeyFile: credential(o.github.appSecretKeyFile),
      webhookSecretFile: credential(o.github.webhookSecretFile),
      oauthId: o.github.oauthId,
      oauthSecretFile: optionalCredential(o.github.oauthSecretFile) ?? null,
      topic: o.github.topic,
      userAllowlist: o.github.userAllowlist,
      repoAllowlist: o.github.repoAllowlist,
      webhookBaseUrl: o.webhookBaseUrl,
    }))
  }
  if (o.gitea) {
    plugins.push(gitea({
      instanceUrl: o.gitea.instanceUrl,
      tokenFile: credential(o.gitea.tokenFile),
      webhookSecretFile: credential(o.gitea.webhookSecretFile),
      topic: o.gitea.topic,
      userAllowlist: o.gitea.userAllowlist,
      repoAllowlist: o.gitea.repoAllowlist,
      sshPrivateKeyFile: optionalCredential(o.gitea.sshPrivateKeyFile) ?? null,
      sshKnownHostsFile: o.gitea.sshKnownHostsFile,
      webhookBaseUrl: o.webhookBaseUrl,
    }))
  }

  // Sign-in: the auth plugin for github/gitea/oidc/none, oauth2-proxy's shared secret for fullyPrivate.
  let wwwAuth: WwwInput['auth'] = null
  const backend = 'fullyPrivate' in o.accessMode ? 'httpbasicauth' : o.authBackend
  if (backend === 'httpbasicauth') {
    if (!('fullyPrivate' in o.accessMode) || o.httpBasicAuthPasswordFile === null) {
      throw new ConfigError(file, [], [`${file}: services.buildbot-nix.master.authBackend 'httpbasicauth' is the fullyPrivate access mode: set accessMode.fullyPrivate and httpBasicAuthPasswordFile`])
    }
    const fp = o.accessMode.fullyPrivate
    // oauth2-proxy's own secrets are its unit's credentials; the master only needs the shared password.
    const proxyCredentials = '/run/credentials/oauth2-proxy.service'
    plugins.push(oauth2Proxy({
      backend: fp.backend, clientId: fp.clientId, teams: fp.teams, users: fp.users, admins: o.admins, port: fp.port,
      clientSecretFile: join(proxyCredentials, 'client-secret'), cookieSecretFile: join(proxyCredentials, 'cookie-secret'),
      httpBasicAuthPasswordFile: credential(o.httpBasicAuthPasswordFile),
      giteaUrl: o.gitea?.instanceUrl, upstream: `http://127.0.0.1:${o.port}/`,
    }))
    wwwAuth = { provider: 'httpbasicauth' }
  } else {
    const need = (what: string, v: unknown) => {
      if (v === null || v === undefined) throw new ConfigError(file, [], [`${file}: services.buildbot-nix.master.authBackend is '${backend}': set ${what}`])
    }
    if (backend === 'github') { need('github (github.enable)', o.github); need('github.oauthId and github.oauthSecretFile', o.github?.oauthId && o.github.oauthSecretFile) }
    if (backend === 'gitea') { need('gitea (gitea.enable)', o.gitea); need('gitea.oauthId and gitea.oauthSecretFile', o.gitea?.oauthId && o.gitea.oauthSecretFile) }
    if (backend === 'oidc') need('oidc.discoveryUrl, oidc.clientId and oidc.clientSecretFile', o.oidc?.discoveryUrl && o.oidc.clientId && o.oidc.clientSecretFile)
    plugins.push(auth({
      authBackend: backend,
      admins: o.admins,
      allowUnauthenticatedControl: o.allowUnauthenticatedControl,
      github: backend === 'github' && o.github ? { oauthId: o.github.oauthId!, oauthSecretFile: credential(o.github.oauthSecretFile!) } : undefined,
      gitea: backend === 'gitea' && o.gitea ? { instanceUrl: o.gitea.instanceUrl, oauthId: o.gitea.oauthId!, oauthSecretFile: credential(o.gitea.oauthSecretFile!) } : undefined,
      oidc: backend === 'oidc' && o.oidc ? {
        name: o.oidc.name, discoveryUrl: o.oidc.discoveryUrl!, clientId: o.oidc.clientId!, clientSecretFile: credential(o.oidc.clientSecretFile!),
        scope: o.oidc.scope, mapping: o.oidc.mapping,
      } : undefined,
    }))
    if (backend !== 'none') wwwAuth = { provider: backend }
  }

  return defineMaster({
    title: 'buildbot-nix',
    buildbotURL: `${scheme}://${o.domain}/`,
    db: databaseUrl(o.dbUrl),
    basedir: env.stateDirectory,
    www: { host: o.listenAddress, port: o.port, allowedHosts: [o.domain], auth: wwwAuth },
    // The local worker runs effects only: the nix builders use the workers file's workers.
    workers: [...workers, localWorker({ name: 'local', maxBuilds: 2 })],
    // `%(secret:NAME)s` (postBuildSteps) reads the systemd credentials, as in buildbot-nix.
    secretsProviders: env.credentialsDirectory ? [secretsFromDir(env.credentialsDirectory)] : [],
    protocols: { msgpack: { port: o.workerPort } },
    plugins,
  })
}

/**
 * buildbot-nix's default `postgresql://@/buildbot` means "the local server, over its socket, as
 * the service's user"; node-postgres reads an empty host as localhost over TCP, so the socket
 * folder is named explicitly.
 */
export function databaseUrl(url: string): string {
  const m = /^postgres(?:ql)?:\/\/([^@/]*)@\/([^?]*)(\?.*)?$/.exec(url)
  if (!m) return url
  const query = new URLSearchParams(m[3]?.slice(1) ?? '')
  if (!query.has('host')) query.set('host', '/run/postgresql')
  return `postgresql://${m[1] ? `${m[1]}@` : ''}/${m[2]}?${query.toString()}`
}
