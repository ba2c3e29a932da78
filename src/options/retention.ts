import { CdnPublishError, Codes } from '../errors.js'
import { parseDuration } from '../util/duration.js'

/**
 * Retention of old releases: after each publish (and with `cdn-publish prune`), the files of
 * releases that no retention rule keeps any more are deleted. A file is deleted only when no kept
 * release names it, and nothing outside the prefix is ever deleted. `false` turns pruning off.
 *
 * Durations are milliseconds or strings such as `'90s'`, `'15m'`, `'1h'`, `'1.5h'`, `'2d'`.
 *
 * For users of the Ruby gem s3_asset_deploy: `version_limit` ≈ `releases − 1`,
 * `version_ttl` ≈ `minAge`, `removed_ttl` ≈ `grace`.
 */
export interface RetentionOptions {
  /**
   * Number of releases kept by count: the current release and the `releases − 1` most recently
   * replaced ones (their files stay, so a rollback to them is possible).
   * s3_asset_deploy's `version_limit` is `releases − 1`.
   * @default 3
   */
  releases?: number
  /**
   * A release published less than this long ago is kept, even beyond `releases`.
   * s3_asset_deploy's `version_ttl`.
   * @default '1h'
   */
  minAge?: string | number
  /**
   * A release's files are kept until this long after it stopped being current, for HTML still in
   * caches and long-lived browser tabs. Also how long an unfinished publish is waited for (at
   * least 1 h, whatever `grace` says), and
   * the minimum age of an orphan deleted with `orphans: 'delete'`.
   * s3_asset_deploy's `removed_ttl`.
   * @default '48h'
   */
  grace?: string | number
  /**
   * Objects under the prefix that no release record names (from other tools, or from before the
   * plugin was adopted): `'keep'` never deletes them; `'delete'` deletes them once older than
   * `grace`.
   * @default 'keep'
   */
  orphans?: 'keep' | 'delete'
  /**
   * Allow pruning when the prefix is empty, i.e. when the whole bucket is the plugin's.
   * Without it, pruning with an empty prefix is refused.
   * @default false
   */
  allowRootPrefix?: boolean
}

export interface RetentionPolicy {
  /** Releases kept by count, the current one included (>= 1). */
  releases: number
  /** ms: a release published less than this ago is kept. */
  minAge: number
  /** ms: a release's files are kept until this long after it stopped being current. */
  grace: number
  /** Whether objects no record names may be deleted (only when older than `grace`). */
  orphans: 'keep' | 'delete'
}

export type ResolvedRetention = RetentionPolicy & { allowRootPrefix: boolean }

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

function invalid(option: string, expected: string, got: unknown): CdnPublishError {
  const shown = typeof got === 'number' ? String(got) : (JSON.stringify(got) ?? String(got))
  return new CdnPublishError(Codes.INVALID_OPTION, `Invalid option \`${option}\`: expected ${expected}, got ${shown}.`, { option })
}

/**
 * The retention policy with defaults applied, or `false` when pruning is off.
 * @throws CdnPublishError `INVALID_OPTION` naming the offending option (`retention.grace`...).
 */
export function resolveRetention(options: RetentionOptions | false | undefined): ResolvedRetention | false {
  if (options === false) return false
  if (options === undefined) return { ...RETENTION_DEFAULTS }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid('retention', 'an object or false', options)
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
      throw invalid('retention.releases', 'an integer >= 1 (the current release counts as one)', o.releases)
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
    if (o.orphans !== 'keep' && o.orphans !== 'delete') throw invalid('retention.orphans', "'keep' or 'delete'", o.orphans)
    orphans = o.orphans
  }

  let allowRootPrefix = RETENTION_DEFAULTS.allowRootPrefix
  if (o.allowRootPrefix !== undefined) {
    if (typeof o.allowRootPrefix !== 'boolean') throw invalid('retention.allowRootPrefix', 'a boolean', o.allowRootPrefix)
    allowRootPrefix = o.allowRootPrefix
  }

  return { releases, minAge, grace, orphans, allowRootPrefix }
}
