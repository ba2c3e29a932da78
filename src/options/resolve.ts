/**
 * Every option of `cdnPublish()` resolved at once, against the environment and the project's
 * `.env` files: what the plugin checks when the build starts, so that an invalid value fails the
 * build before it writes anything.
 */
import { resolveBuildOptions } from './build.js'
import { loadEnvFiles, type EnvConfig } from './env.js'
import { resolvePublishOptions } from './publish.js'
import { resolveRetention } from './retention.js'
import type { CdnPublishOptions, ResolvedBuildOptions, ResolvedPublishOptions, ResolvedRetention } from './types.js'

export interface ResolvedOptions {
  build: ResolvedBuildOptions
  /** `false`: `publish: false`, nothing is published. */
  publish: ResolvedPublishOptions | false
  retention: ResolvedRetention | false
}

/** Throws `CdnPublishError` (`INVALID_OPTION`) naming the option or variable and the rule it breaks. */
export function resolveOptions(options: CdnPublishOptions, project: EnvConfig | undefined): ResolvedOptions {
  const build = resolveBuildOptions(options)
  if (options.publish === false) return { build, publish: false, retention: false }
  const files = loadEnvFiles(project)
  const publish = resolvePublishOptions(options.publish, { process: process.env, files }, build.label)
  return { build, publish, retention: resolveRetention(options.retention) }
}
