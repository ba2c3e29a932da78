/** The retention options, checked and with defaults applied. */
import { CdnPublishError, Codes } from '../errors.js'
import { parseDuration } from '../util/duration.js'
import type { ResolvedRetention, RetentionOptions } from './types.js'
import { invalid } from './validate.js'

export const RETENTION_DEFAULTS: Readonly<ResolvedRetention> = Object.freeze({
  releases: 3,
  minAge: 60 * 60 * 1000,
  grace: 48 * 60 * 60 * 1000,
  orphans: 'keep',
  allowRootPrefix: false,
})

/** Names s3_asset_deploy users might try, and what to use instead. */
const GEM_NAMES: Record<string, string> = {
  version_limit: '`releases` (= version_limit + 1)',
  versionLimit: '`releases` (= version_limit + 1)',
  version_ttl: '`minAge`',
  versionTtl: '`minAge`',
  removed_ttl: '`grace`',
  removedTtl: '`grace`',
}

const KNOWN = new Set(['releases', 'minAge', 'grace', 'orphans', 'allowRootPrefix'])

/**
 * The retention policy with defaults applied, or `false` when pruning is off.
 * @throws CdnPublishError `INVALID_OPTION` naming the offending option (`retention.grace`...).
 */
export function resolveRetention(options: RetentionOptions | false | undefined): ResolvedRetention | false {
  if (options === false) return false
  if (options === undefined) return { ...RETENTION_DEFAULTS }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid('retention', 'an object or false', { value: options })
  }
  for (const name of Object.keys(options)) {
    if (KNOWN.has(name)) continue
    const hint = GEM_NAMES[name] ? `; use ${GEM_NAMES[name]}` : ''
    throw new CdnPublishError(
      Codes.INVALID_OPTION,
      `Invalid option \`retention.${name}\`: unknown option (known: ${[...KNOWN].join(', ')})${hint}.`,
      { option: `retention.${name}` },
    )
  }
  const o = options as Record<string, unknown>

  let releases = RETENTION_DEFAULTS.releases
  if (o.releases !== undefined) {
    if (typeof o.releases !== 'number' || !Number.isSafeInteger(o.releases) || o.releases < 1) {
      throw invalid('retention.releases', 'an integer >= 1 (the current release counts as one)', { value: o.releases })
    }
    releases = o.releases
  }

  const duration = (name: 'minAge' | 'grace'): number => {
    const v = o[name]
    if (v === undefined) return RETENTION_DEFAULTS[name]
    // parseDuration rejects any other type, with the accepted forms in the message.
    return parseDuration(v as string | number, `retention.${name}`)
  }
  const minAge = duration('minAge')
  const grace = duration('grace')

  let orphans = RETENTION_DEFAULTS.orphans
  if (o.orphans !== undefined) {
    if (o.orphans !== 'keep' && o.orphans !== 'delete') throw invalid('retention.orphans', "'keep' or 'delete'", { value: o.orphans })
    orphans = o.orphans
  }

  let allowRootPrefix = RETENTION_DEFAULTS.allowRootPrefix
  if (o.allowRootPrefix !== undefined) {
    if (typeof o.allowRootPrefix !== 'boolean') throw invalid('retention.allowRootPrefix', 'a boolean', { value: o.allowRootPrefix })
    allowRootPrefix = o.allowRootPrefix
  }

  return { releases, minAge, grace, orphans, allowRootPrefix }
}
