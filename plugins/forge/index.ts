/** Code the forge plugins (GitHub, Gitea) share: one file per concept. */
export { createDeliveryDedup, deliveryStoreOf, type DeliveryDedup, type DeliveryOutcome, type DeliveryStore } from './delivery-dedup.ts'
export { repoAllowed, repoExcluded, type RepoFacts, type RepoFilterOptions } from './repo-filter.ts'
export { decidePullRequestTrust, type PullRequestTrust, type PullRequestTrustInput } from './pr-trust.ts'
export { createDiscoveryLoop, type DiscoveryLoop, type DiscoveryLoopOptions } from './discovery-loop.ts'
export { sshGitAccess, isSshUrl, explainSshFailure, type SshKeyOptions } from './git-ssh.ts'
