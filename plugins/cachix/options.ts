import { z } from '../../core/index.ts'

const file = (description: string) => z.string().min(1).meta({ description, examples: ['/run/credentials/buildbot-master/cachix-token'] })
const executable = z.string().min(1).meta({ description: 'the tool to run (default: found on PATH)', examples: ['/run/current-system/sw/bin/cachix'] }).optional()

/** `cachix({ name, auth })`, as `services.buildbot-nix.master.cachix`. */
export const cachixSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: "a Cachix cache name is lower-case letters, digits and '-', e.g. 'my-cache'" }).meta({ description: 'the Cachix cache (`<name>.cachix.org`)', examples: ['my-cache'] }),
  auth: z.union([
    z.strictObject({ authToken: z.strictObject({ file: file('a file holding the Cachix auth token (sent as CACHIX_AUTH_TOKEN)') }) }),
    z.strictObject({ signingKey: z.strictObject({ file: file('a file holding the signing key of a self-signed cache (sent as CACHIX_SIGNING_KEY)') }) }),
  ], { error: "give auth: { authToken: { file: '/path/to/token' } } or auth: { signingKey: { file: '/path/to/key' } }" }).optional(),
  /** Deprecated in buildbot-nix; use `auth.authToken.file`. */
  authTokenFile: file('deprecated: use auth.authToken.file').optional(),
  /** Deprecated in buildbot-nix; use `auth.signingKey.file`. */
  signingKeyFile: file('deprecated: use auth.signingKey.file').optional(),
  executable,
})

/** `niks3({ serverUrl, authTokenFile })`, as `services.buildbot-nix.master.niks3`. */
export const niks3Schema = z.strictObject({
  serverUrl: z.url({ error: "give the niks3 server's URL, e.g. 'https://niks3.example.org'" }).meta({ description: 'the niks3 server (NIKS3_SERVER_URL)', examples: ['https://niks3.example.org'] }),
  authTokenFile: file('a file holding the niks3 auth token (NIKS3_AUTH_TOKEN_FILE)'),
  executable,
})

/** `attic({ endpoint, cache, tokenFile })`. */
export const atticSchema = z.strictObject({
  endpoint: z.url({ error: "give the Attic server's URL, e.g. 'https://attic.example.org/'" }).meta({ description: 'the Attic server', examples: ['https://attic.example.org/'] }),
  cache: z.string().min(1).meta({ description: 'the cache on that server', examples: ['main'] }),
  tokenFile: file('a file holding an Attic token allowed to push to the cache'),
  executable,
})

/** `nixStore({ url, secretKeyFile })`: `nix copy --to <url>`. */
export const nixStoreSchema = z.strictObject({
  url: z.string().regex(/^[a-z][a-z0-9+.-]*:\/\//, { error: "give a Nix store URL, e.g. 'file:///var/cache/nix', 's3://bucket?region=eu-west-1', 'ssh-ng://cache.example.org' or 'https://cache.example.org'" })
    .meta({ description: 'the store `nix copy --to` writes to', examples: ['file:///var/cache/nix', 's3://nix-cache?region=eu-west-1'] }),
  secretKeyFile: file('signs what is pushed to a binary cache store (its `secret-key` setting)').optional(),
})

const oneOrMany = <T extends z.ZodType>(s: T) => z.union([s, z.array(s)])

const interpolateValue = z.union([
  z.string(),
  z.strictObject({ _type: z.literal('interpolate'), value: z.string() }).meta({ description: "buildbot-nix's `lib.interpolate`: `%(prop:attr)s`, `%(secret:name)s`" }),
  z.custom<object>((v) => typeof v === 'object' && v !== null && typeof (v as { render?: unknown }).render === 'function', { error: 'must be a string, interpolate(...) or a renderable' }),
])

/** One of `postBuildSteps`, as buildbot-nix's option of that name. */
export const postBuildStepSchema = z.strictObject({
  name: z.string().min(1).meta({ description: 'the step name shown in the UI', examples: ['upload to S3'] }),
  command: z.array(interpolateValue, { error: (iss) => (iss.code === 'invalid_type' ? "give the command as a list of arguments (it is run without a shell), e.g. ['cachix', 'push', 'my-cache', interpolate('result-%(prop:attr)s')]" : undefined) })
    .min(1, { error: 'the command needs at least the program to run' })
    .meta({ description: 'argv of the command, run on the worker in the build directory, never through a shell; items may be interpolations (`%(prop:attr)s`, `%(secret:name)s`)' }),
  environment: z.record(z.string(), interpolateValue).meta({ description: 'extra environment variables (values may be interpolations and secrets)' }).optional(),
  warnOnly: z.boolean().meta({ description: 'a failure makes the build WARNINGS, not FAILURE (default false)' }).optional(),
  trustedOnly: z.boolean().meta({ description: 'run only in trusted builds (default true: an untrusted pull request runs no post-build step)' }).optional(),
  branches: z.array(z.string()).meta({ description: 'run only for these branch globs (default: every branch)', examples: [['main', 'release-*']] }).optional(),
})

/** The options of `binaryCaches({...})`. */
export const binaryCachesSchema = z.strictObject({
  cachix: oneOrMany(cachixSchema).meta({ description: 'push to Cachix (`cachix push`)' }).optional(),
  niks3: oneOrMany(niks3Schema).meta({ description: 'push to niks3 (`niks3 push`)' }).optional(),
  attic: oneOrMany(atticSchema).meta({ description: 'push to Attic (`attic push`)' }).optional(),
  nixStore: oneOrMany(nixStoreSchema).meta({ description: 'push to any Nix store (`nix copy --to`)' }).optional(),
  postBuildSteps: z.array(postBuildStepSchema).meta({ description: 'commands run after every successful attribute build, with its properties (`attr`, `out_path`, `drv_path`, `system`); `result-<attr>` links to its output' }).optional(),
  branches: z.array(z.string()).meta({ description: 'push only builds of these branch globs (default: every trusted build)', examples: [['main']] }).optional(),
  onFailure: z.enum(['warnings', 'failure']).meta({ description: "what a push that keeps failing makes the attribute's build (default 'warnings')" }).optional(),
  retry: z.strictObject({
    attempts: z.number().int().min(1).meta({ description: 'tries per path before a push counts as failed (default 5)' }).optional(),
    initialDelay: z.number().min(0).meta({ description: 'seconds before the first retry; doubles each time (default 2)' }).optional(),
    maxDelay: z.number().min(0).meta({ description: 'longest wait between tries, seconds (default 60)' }).optional(),
  }).optional(),
  maxWait: z.number().min(0).meta({ description: "seconds an attribute's build waits for its upload before finishing (default 120); the queue goes on pushing after it" }).optional(),
  pushTimeout: z.number().positive().meta({ description: 'seconds one push command may run before it is stopped and counted as failed (default 1800)' }).optional(),
  batchSize: z.number().int().min(1).meta({ description: 'store paths per push command at most (default 500)' }).optional(),
})

export type BinaryCachesOptions = z.input<typeof binaryCachesSchema>
export type BinaryCachesParsed = z.output<typeof binaryCachesSchema>
export type CachixOptions = z.output<typeof cachixSchema>
export type Niks3Options = z.output<typeof niks3Schema>
export type AtticOptions = z.output<typeof atticSchema>
export type NixStoreOptions = z.output<typeof nixStoreSchema>
export type PostBuildStepOptions = z.output<typeof postBuildStepSchema>
