import type { EndpointDef } from './endpoint.ts'
import { memoryPage } from './endpoint.ts'
import { builderEndpoints } from './builders.ts'
import { buildEndpoints } from './builds.ts'
import { buildRequestEndpoints } from './buildrequests.ts'
import { buildsetEndpoints } from './buildsets.ts'
import { sourceStampEndpoints } from './sourcestamps.ts'
import { propertyEndpoints } from './properties.ts'
import { changeEndpoints } from './changes.ts'
import { schedulerEndpoints } from './schedulers.ts'
import { forceSchedulerEndpoints } from './forceschedulers.ts'
import { masterEndpoints } from './masters.ts'
import { workerEndpoints } from './workers.ts'
import { stepEndpoints } from './steps.ts'
import { logEndpoints } from './logs.ts'
import { logChunkEndpoints } from './logchunks.ts'
import { projectEndpoints } from './projects.ts'

export const ROOT_LINKS = ['builders', 'builds', 'buildrequests', 'workers', 'logchunks', 'buildsets', 'changes', 'changesources',
  'masters', 'sourcestamps', 'schedulers', 'forceschedulers', 'projects']

const rootEndpoint: EndpointDef = {
  kind: 'collection', patterns: [''], type: { plural: 'rootlinks', fields: { name: 'str' } },
  async get(ctx) { return memoryPage(ROOT_LINKS.map((name) => ({ name })), ctx.spec) },
}

/** Every built-in read endpoint, in matching order (first complete match wins, as in Buildbot). */
export const builtinEndpoints: EndpointDef[] = [
  rootEndpoint, ...builderEndpoints, ...buildEndpoints, ...buildRequestEndpoints, ...buildsetEndpoints, ...sourceStampEndpoints,
  ...propertyEndpoints, ...changeEndpoints, ...schedulerEndpoints, ...forceSchedulerEndpoints, ...masterEndpoints,
  ...workerEndpoints, ...stepEndpoints, ...logEndpoints, ...logChunkEndpoints, ...projectEndpoints,
]
