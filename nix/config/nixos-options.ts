import { z } from '../../core/index.ts'

/**
 * The JSON the NixOS module writes (`services.buildbot-nix.master.*`, option names kept): what the
 * master reads. Secret files arrive as systemd credential names, resolved under
 * `$CREDENTIALS_DIRECTORY`. A test compares this schema with the module's option declarations.
 */

const interpolate = z.strictObject({ _type: z.literal('interpolate'), value: z.string() })
const credential = z.string().min(1).regex(/^[A-Za-z0-9_.:-]+$/, { error: 'a systemd credential name' })
const nullableList = z.array(z.string()).nullable()
const positiveInt = z.number().int().min(1)
const port = z.number().int().min(1).max(65535)

export const nixosOptionsSchema = z.strictObject({
  dbUrl: z.string().min(1),
  authBackend: z.enum(['github', 'gitea', 'httpbasicauth', 'oidc', 'none']),
  httpBasicAuthPasswordFile: credential.nullable(),
  postBuildSteps: z.array(z.strictObject({
    name: z.string().min(1),
    environment: z.record(z.string(), z.union([interpolate, z.string()])),
    command: z.union([z.string(), z.array(z.union([z.string(), interpolate]))]),
    warnOnly: z.boolean(),
  })),
  accessMode: z.union([
    z.strictObject({ public: z.strictObject({}) }),
    z.strictObject({
      fullyPrivate: z.strictObject({
        backend: z.enum(['gitea', 'github']),
        clientId: z.string(),
        teams: z.array(z.string()),
        users: z.array(z.string()),
        port,
      }),
    }),
  ]),
  gitea: z.strictObject({
    instanceUrl: z.string().min(1),
    userAllowlist: nullableList,
    repoAllowlist: nullableList,
    topic: z.string().nullable(),
    oauthId: z.string().nullable(),
    tokenFile: credential,
    webhookSecretFile: credential,
    oauthSecretFile: credential.nullable(),
    sshPrivateKeyFile: credential.nullable(),
    sshKnownHostsFile: z.string().nullable(),
  }).nullable(),
  github: z.strictObject({
    appId: z.number().int().min(0),
    userAllowlist: nullableList,
    repoAllowlist: nullableList,
    topic: z.string().nullable(),
    oauthId: z.string().nullable(),
    appSecretKeyFile: credential,
    webhookSecretFile: credential,
    oauthSecretFile: credential.nullable(),
  }).nullable(),
  oidc: z.strictObject({
    name: z.string(),
    discoveryUrl: z.string().nullable(),
    clientId: z.string().nullable(),
    clientSecretFile: credential.nullable(),
    scope: z.array(z.string()),
    mapping: z.strictObject({ email: z.string(), username: z.string(), full_name: z.string(), groups: z.string().nullable() }),
  }).nullable(),
  pullBased: z.strictObject({
    pollInterval: positiveInt,
    pollSpread: z.number().int().nullable(),
    sshKnownHostsFile: z.string().nullable(),
    repositories: z.record(z.string(), z.strictObject({
      url: z.string().min(1),
      defaultBranch: z.string().min(1),
      pollInterval: positiveInt,
      sshPrivateKeyFile: credential.nullable(),
      sshKnownHostsFile: z.string().nullable(),
    })),
  }),
  admins: z.array(z.string()),
  workersFile: credential,
  buildSystems: z.array(z.string()),
  evalMaxMemorySize: z.number().int(),
  evalWorkerCount: z.number().int().nullable(),
  domain: z.string().min(1),
  webhookBaseUrl: z.string().min(1),
  useHTTPS: z.boolean().nullable(),
  showTrace: z.boolean().nullable(),
  buildMaxSilentTime: z.number().int(),
  buildTimeout: z.number().int(),
  cacheFailedBuilds: z.boolean(),
  allowUnauthenticatedControl: z.boolean(),
  outputsPath: z.string().nullable(),
  failedBuildReportLimit: z.number().int().min(0),
  effects: z.strictObject({
    perRepoSecretFiles: z.record(z.string(), credential),
    extraSandboxPaths: z.array(z.string()),
  }),
  branches: z.record(z.string(), z.strictObject({ matchGlob: z.string(), registerGCRoots: z.boolean(), updateOutputs: z.boolean() })),
  cachix: z.strictObject({
    name: z.string().min(1),
    auth: z.union([
      z.strictObject({ authToken: z.strictObject({ file: credential }) }),
      z.strictObject({ signingKey: z.strictObject({ file: credential }) }),
    ]),
  }).nullable(),
  niks3: z.strictObject({ serverUrl: z.string().min(1), authTokenFile: credential }).nullable(),
  port,
  workerPort: port,
  listenAddress: z.string().min(1),
})

export type NixosOptions = z.output<typeof nixosOptionsSchema>

/**
 * Options of the module that never reach the master: the switches that decide whether a section is
 * written at all, nginx's, oauth2-proxy's own secrets, the packages, deprecated aliases.
 */
export const moduleOnlyOptions: readonly string[] = [
  'enable', 'enableNginx', 'github.enable', 'gitea.enable', 'cachix.enable', 'niks3.enable', 'niks3.package',
  'cachix.signingKeyFile', 'cachix.authTokenFile',
  'accessMode.fullyPrivate.cookieSecretFile', 'accessMode.fullyPrivate.clientSecretFile',
  'pullBased.sshPrivateKeyFile',
]
