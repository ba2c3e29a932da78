/**
 * Point the stable manifest (and the mutable files, such as `index.html`) back at a retained
 * release. Possible because retention keeps every file a kept release names, and each release's
 * record lists snapshots of its mutable files and manifest.
 *
 * Order, as in a publish: check that every file and snapshot of the release is there (refuse
 * otherwise, naming what is missing); restore the mutable files; then the switch — the stable
 * manifest, the one it replaces marked `replaced`, the release's record marked `current`; the
 * restore and the switch under the prefix's lease (./bucket/lease.ts), as a publish's switch.
 */
import { md5Hex } from './build/hash.js'
import { RELEASE_FILE } from './build/manifest.js'
import { CdnPublishError, Codes } from './errors.js'
import { readBucketState, readRecord, releaseOfManifest, type BucketState } from './bucket/state.js'
import { restore, revert } from './publish/revert.js'
import { pool } from './util/pool.js'
import { formatBytes, formatSeconds, silentLogger, type PublishLogger } from './log.js'
import { recordKey, releaseKeys, type ReleaseRecord, type Snapshot } from './bucket/record.js'
import type { ObjectStore, PutRequest } from './bucket/store.js'
import { acquireLease } from './bucket/lease.js'

export interface RollbackInput {
  store: ObjectStore
  /** `''` or ending in `/`. */
  prefix: string
  /** Stable manifest, relative to the prefix. */
  manifest: string
  /** Release id, or a prefix of one that names a single release. */
  release: string
  dryRun?: boolean
  logger?: PublishLogger
  now?: () => Date
  concurrency?: number
}

export interface RollbackReport {
  dryRun: boolean
  release: string
  /** The release that was current before. */
  previous: string | undefined
  /** Paths restored from snapshots (dry run: that would be), the manifest last. */
  restored: string[]
  /** Paths that already had the release's bytes. */
  unchanged: string[]
  durationMs: number
}

const JSON_TYPE = 'application/json; charset=utf-8'

export async function runRollback(input: RollbackInput): Promise<RollbackReport> {
  const { store, prefix } = input
  const logger = input.logger ?? silentLogger
  const now = input.now ?? (() => new Date())
  const t0 = performance.now()
  const dryRun = input.dryRun ?? false
  const state = await readBucketState(store, prefix, input.manifest, input.concurrency)
  const target = findRelease(state, input.release, store)
  const previous = state.current
  const report: RollbackReport = { dryRun, release: target.release, previous, restored: [], unchanged: [], durationMs: 0 }
  if (previous === target.release) {
    const unsettled = [...state.records.values()].filter((r) => (r.release === target.release) !== (r.state === 'current'))
    if (unsettled.length && !dryRun) {
      // a rollback or publish stopped between its record writes: finish them
      const lease = await acquireLease({ store, prefix, operation: 'rollback', release: target.release, logger })
      try {
        await settleRecords(store, prefix, state, target, undefined, now().toISOString())
      } finally {
        await lease.release()
      }
      logger.info(`release ${target.release} is already served; its record and ${unsettled.length - (target.state === 'current' ? 0 : 1)} other(s) marked as such`)
    } else logger.info(`release ${target.release} is already current: nothing to roll back`)
    report.durationMs = Math.round(performance.now() - t0)
    return report
  }
  const snapshots = checkComplete(state, target, input.manifest, store)

  // what differs from the release's own bytes (the listing's ETag is the MD5 of a plain upload)
  const listed = new Map(state.listing.map((o) => [o.key, o]))
  const bytes = new Map<string, Uint8Array>()
  const paths = Object.keys(snapshots).filter((p) => p !== input.manifest)
  await pool([...paths, input.manifest], input.concurrency ?? 8, async (p) => {
    const body = await store.getBytes(prefix + snapshots[p].key)
    if (body === undefined) throw refused(`the snapshot of ${p} (${prefix + snapshots[p].key}) disappeared while rolling back`, target.release, store)
    bytes.set(p, body)
  })
  const todo = paths.filter((p) => listed.get(prefix + p)?.etag !== md5Hex(bytes.get(p)!)).sort()
  report.unchanged = paths.filter((p) => !todo.includes(p)).sort()
  report.restored = [...todo, input.manifest]

  logger.info(
    `${dryRun ? 'dry run: would roll back' : 'rolling back'} ${store.describe()} prefix ${JSON.stringify(prefix)} ` +
      `from release ${previous ?? '(none)'} to ${target.release}${target.label ? ` "${target.label}"` : ''}: ` +
      `${todo.length} file(s) to restore, ${report.unchanged.length} unchanged, then the manifest`,
  )
  if (dryRun) {
    for (const p of todo) logger.info(`  restore  ${prefix + p} (${formatBytes(bytes.get(p)!.length)}, from ${snapshots[p].key})`)
    logger.info(`  restore  ${prefix + input.manifest} (the switch)`)
    logger.info(`  write    ${recordKey(prefix, target.release)} (mark current)`)
    if (previous !== undefined && state.records.has(previous)) logger.info(`  write    ${recordKey(prefix, previous)} (mark replaced)`)
    report.durationMs = Math.round(performance.now() - t0)
    logger.info(`dry run of rollback to ${target.release}: nothing was written`)
    return report
  }

  // under the prefix's lease, as a publish switches: the two never interleave
  const lease = await acquireLease({ store, prefix, operation: 'rollback', release: target.release, ...(target.label !== undefined ? { label: target.label } : {}), logger })
  try {
    const manifestKey = prefix + input.manifest
    const stored = await store.head(manifestKey)
    if (stored?.etag !== listed.get(manifestKey)?.etag) {
      const current = releaseOfManifest(await store.getBytes(manifestKey))
      throw new CdnPublishError(
        Codes.PUBLISH_CONFLICT,
        `rollback to ${target.release} in ${store.describe()}: release ${current ?? '(unknown)'} became current while it read the bucket. Nothing was written; run the rollback again if it is still wanted.`,
        { release: target.release, current },
      )
    }
    // cdn-release.json after the pages it speaks for, as in a publish
    for (const group of [todo.filter((p) => p !== RELEASE_FILE), todo.filter((p) => p === RELEASE_FILE)]) {
      await pool(group, input.concurrency ?? 8, (p) => restore(store, prefix + p, bytes.get(p)!, snapshots[p]))
    }
    // the switch, conditional on the manifest read: a writer that takes no lease loses nothing
    try {
      await restore(store, manifestKey, bytes.get(input.manifest)!, snapshots[input.manifest], stored ? { ifMatch: stored.etag } : { ifNoneMatch: true })
    } catch (err) {
      if (!(err instanceof CdnPublishError && err.code === Codes.PUBLISH_CONFLICT)) throw err
      const current = releaseOfManifest(await store.getBytes(manifestKey))
      const record = current !== undefined ? await readRecord(store, recordKey(prefix, current)) : undefined
      const reverted = await revert(store, { prefix, concurrency: input.concurrency ?? 8 }, todo.map((p) => ({ key: prefix + p, path: p })), record)
      throw new CdnPublishError(
        Codes.PUBLISH_CONFLICT,
        `rollback to ${target.release} in ${store.describe()}: the stable manifest was switched to release ${current ?? '(unknown)'} meanwhile by a writer that takes no lease; ` +
          (reverted.failed.length ? `${reverted.failed.length} restored file(s) could not be put back: ${reverted.failed.slice(0, 5).join(', ')}.` : 'the files it had restored were put back.') +
          ' Run the rollback again if it is still wanted.',
        { release: target.release, current },
      )
    }
    await settleRecords(store, prefix, state, target, previous, now().toISOString())
  } finally {
    await lease.release()
  }
  report.durationMs = Math.round(performance.now() - t0)
  logger.info(
    `rolled back to release ${target.release} in ${formatSeconds(report.durationMs)}: ${todo.length} file(s) and the manifest restored` +
      `${previous ? `; release ${previous} is kept for the grace period` : ''}`,
  )
  return report
}

/**
 * The records after a switch to `target`: every other release marked current (the previous one
 * read again, under the lease: the listed copy may predate its switch's last write) marked
 * `replaced` first, then `target` current, so a run stopped between the writes never leaves two
 * records saying current.
 */
async function settleRecords(store: ObjectStore, prefix: string, state: BucketState, target: ReleaseRecord, previous: string | undefined, at: string): Promise<void> {
  const fresh = previous !== undefined ? await readRecord(store, recordKey(prefix, previous)) : undefined
  const others = [...state.records.values()].filter((r) => r.release !== target.release && r.release !== previous && r.state === 'current')
  for (const r of [...(fresh && fresh.state !== 'replaced' ? [fresh] : []), ...others]) {
    await putRecord(store, prefix, { ...r, state: 'replaced', replacedAt: at })
  }
  if (target.state !== 'current') await putRecord(store, prefix, { ...target, state: 'current' })
}

function findRelease(state: BucketState, wanted: string, store: ObjectStore): ReleaseRecord {
  const exact = state.records.get(wanted)
  if (exact) return exact
  const matches = [...state.records.keys()].filter((id) => id.startsWith(wanted))
  if (matches.length === 1) return state.records.get(matches[0])!
  const known = [...state.records.values()]
    .filter((r) => r.publishedAt !== undefined)
    .sort((a, b) => (a.publishedAt! < b.publishedAt! ? 1 : -1))
    .map((r) => r.release)
  throw refused(
    matches.length > 1
      ? `"${wanted}" names ${matches.length} releases (${matches.join(', ')}): give more of the id`
      : `no record of release "${wanted}" under ${JSON.stringify(state.prefix)}; retained releases: ${known.join(', ') || 'none'}`,
    wanted,
    store,
  )
}

/** The release's snapshots, once every file and snapshot it names is in the listing. */
function checkComplete(state: BucketState, target: ReleaseRecord, manifest: string, store: ObjectStore): Record<string, Snapshot> {
  if (target.publishedAt === undefined) {
    throw refused(`release ${target.release} was never published completely (its record is ${target.state})`, target.release, store)
  }
  const snapshots = target.snapshots ?? {}
  if (!snapshots[manifest]) {
    throw refused(`the record of release ${target.release} has no snapshot of ${manifest}, so its manifest cannot be restored`, target.release, store)
  }
  const listed = new Set(state.listing.map((o) => o.key))
  const missing = releaseKeys(target, state.prefix).filter((k) => !listed.has(k)).sort()
  if (missing.length) {
    throw refused(
      `${missing.length} file(s) of release ${target.release} are no longer in the bucket: ${missing.slice(0, 10).join(', ')}` +
        `${missing.length > 10 ? ', …' : ''}. Pages of that release would break; publish a build of it again instead`,
      target.release,
      store,
    )
  }
  return snapshots
}

async function putRecord(store: ObjectStore, prefix: string, record: ReleaseRecord): Promise<void> {
  const body = Buffer.from(`${JSON.stringify(record, undefined, 2)}\n`)
  await store.put({ key: recordKey(prefix, record.release), body, contentLength: body.length, contentType: JSON_TYPE, cacheControl: 'no-cache', md5: md5Hex(body) })
}

function refused(message: string, release: string, store: ObjectStore): CdnPublishError {
  return new CdnPublishError(Codes.ROLLBACK_REFUSED, `rollback to ${release} in ${store.describe()} refused: ${message}. Nothing was written.`, { release })
}
