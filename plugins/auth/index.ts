import { existsSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { addApiTokens, definePlugin, type LoginProvider, type PluginApi } from '../../core/index.ts'
import { authOptionsSchema, type AuthOptions } from './options.ts'
import { secretFile } from './secret-file.ts'
import { githubProvider } from './github.ts'
import { giteaProvider } from './gitea.ts'
import { oidcProvider } from './oidc.ts'
import { buildbotNixRoles, CONTROL_ROLE, maySee } from './roles.ts'

export { buildbotNixRoles, isMember, projectOwner, MEMBER_ACTIONS } from './roles.ts'
export { mapClaims } from './oidc.ts'
export { TOKEN_PREFIX } from '../../core/index.ts'
export type { AuthOptions } from './options.ts'

/** A secret file option: reported at config time when missing, read when the first login starts. */
function secretOf(api: PluginApi, path: string, option: string): () => Promise<string> {
  const full = isAbsolute(path) ? path : join(api.basedir, path)
  if (!existsSync(full)) api.error(option, `the file ${full} does not exist; put the client secret there`)
  return secretFile(api.basedir, path, option)
}

function providerOf(api: PluginApi, o: AuthOptions, extra: Partial<LoginProvider>): { provider?: LoginProvider; forge: string | null } {
  switch (o.authBackend) {
    case 'github':
      if (!o.github) { api.error('github', "authBackend 'github' needs github: { oauthId, oauthSecretFile } (the GitHub App's OAuth client)"); return { forge: 'github' } }
      return { provider: githubProvider(o.github, secretOf(api, o.github.oauthSecretFile, 'github.oauthSecretFile'), extra), forge: 'github' }
    case 'gitea':
      if (!o.gitea) { api.error('gitea', "authBackend 'gitea' needs gitea: { instanceUrl, oauthId, oauthSecretFile }"); return { forge: 'gitea' } }
      return { provider: giteaProvider(o.gitea, secretOf(api, o.gitea.oauthSecretFile, 'gitea.oauthSecretFile'), extra), forge: 'gitea' }
    case 'oidc':
      if (!o.oidc) { api.error('oidc', "authBackend 'oidc' needs oidc: { discoveryUrl, clientId, clientSecretFile }"); return { forge: null } }
      return { provider: oidcProvider(o.oidc, secretOf(api, o.oidc.clientSecretFile, 'oidc.clientSecretFile'), extra), forge: null }
    case 'none':
      return { forge: null }
  }
}

/**
 * Sign-in and roles as buildbot-nix has them. `authBackend` picks the login provider (`github`,
 * `gitea` or `oidc`; name it in `www.auth: { provider }` too); `admins` may do everything;
 * members of the organisation owning a project may force, rebuild, stop and cancel its builds;
 * everyone else reads. Signed-in users can make API tokens for scripts (`Authorization: Bearer`).
 *
 * @example
 *   www: { auth: { provider: 'github' } },
 *   plugins: [auth({ authBackend: 'github', admins: ['alice'], github: { oauthId: 'Iv1.x', oauthSecretFile: '/run/secrets/github-oauth' } })]
 */
export const auth = definePlugin({
  name: 'auth',
  options: authOptionsSchema,
  setup(api, o) {
    const tokens = o.apiTokens === false || o.authBackend === 'none' ? undefined : addApiTokens(api)
    const { provider, forge } = providerOf(api, o, tokens ? { fromAuthorization: (h) => tokens.fromAuthorization(h), apiTokens: true } : {})
    if (provider) api.addLoginProvider(provider)
    api.addRoleMatcher(buildbotNixRoles({ admins: o.admins ?? [], forge }))
    if (o.privateRepositories !== 'visible') {
      const admins = o.admins ?? []
      api.addProjectVisibility(({ user, project }) => maySee(user, project, { admins, forge }))
    }
    if (o.allowUnauthenticatedControl) api.addRoleMatcher(() => [CONTROL_ROLE], { anonymous: true })
  },
})
