const idFields: Record<string, string> = {
  builds: 'buildid', builders: 'builderid', workers: 'workerid', buildrequests: 'buildrequestid',
  buildsets: 'bsid', steps: 'stepid', logs: 'logid', projects: 'projectid', changes: 'changeid',
  masters: 'masterid', schedulers: 'schedulerid', forceschedulers: 'name', sourcestamps: 'ssid',
  nixjobs: 'jobid', changesources: 'changesourceid', test_result_sets: 'test_result_setid',
}

/** The key identifying an entity of a Buildbot resource type, by its plural. */
export function idFieldOf(plural: string): string {
  return idFields[plural] ?? `${plural.replace(/s$/, '')}id`
}
