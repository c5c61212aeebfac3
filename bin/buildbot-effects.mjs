#!/usr/bin/env node
// Runs Hercules CI effects of a flake in a sandbox: `buildbot-effects list|run|run-all|list-schedules|run-scheduled`.
import { launch } from './launch.mjs'
await launch('plugins/effects/cli.ts')
