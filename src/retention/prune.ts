/**
 * Carry out a prune against an `ObjectStore`: read the bucket, let the pure policy decide, delete
 * in the policy's order (files, then orphans, then the records of deleted releases).
 *
 * Safe against a publish running at the same time: before every batch of deletions the release
 * records are listed again, and any change (a new pending record, a release switched) makes the
 * prune read everything again and plan anew. A publish, for its part, checks before its switch
 * that the files it reuses are still there. A failed batch stops the prune: the records of
 * releases whose files could not all be deleted stay, so the next prune finishes the job.
 */
import { CdnPublishError, Codes } from '../errors.js'
import { readBucketState, type BucketState, type KnownState, type RecordSummary } from '../bucket/state.js'
import { formatBytes, silentLogger, type PublishLogger } from '../log.js'
import { RECORDS_DIR, releasePaths, type ReleaseRecord } from '../bucket/record.js'
import { MAX_DELETE_BATCH, type DeleteResult, type ObjectStore, type StoredObject } from '../bucket/store.js'
import { formatDuration } from '../util/duration.js'
import type { ResolvedRetention } from '../options/types.js'
import { planPrune, type PolicyInput, type PrunePlan, type ReleaseRecordView } from './policy.js'

/** Plans made before giving up when the records keep changing under the prune. */
const MAX_PLANS = 5

export interface PruneInput {
  store: ObjectStore
  /** `''` or ending in `/`. */
  prefix: string
  /** Stable manifest, relative to the prefix (never deleted). */
  manifest: string
  retention: ResolvedRetention
  dryRun?: boolean
  logger?: PublishLogger
  now?: () => Date
  /** Reads in flight at once. @default 8 */
  concurrency?: number
  /**
   * Plan as if this release had just become current (a dry run of publish and prune together:
   * the bucket does not have its record yet).
   */
  assumeCurrent?: ReleaseRecord
  /** Keys per DeleteObjects request. @default 1000 */
  batchSize?: number
  /** What the caller already read and knows to be current, used for the first plan instead of reading it again. */
  known?: KnownState
}

/** What a prune did (or, in a dry run, would do). */
export interface PruneReport {
  dryRun: boolean
  /** Set when pruning did not run (an empty prefix without `allowRootPrefix`). */
  skipped?: string
  /** Set when nothing was deleted because the bucket's state is not safe to plan on. */
  refused?: string
  current?: string
  releases: { kept: string[]; deleted: string[] }
  /** Keys deleted (dry run: keys that would be). */
  deleted: string[]
  /** Keys whose deletion failed. */
  failed: DeleteResult['errors']
  bytesFreed: number
  warnings: string[]
  /** How often the prune planned (more than once when records changed under it). */
  plans: number
  durationMs: number
  /** The last plan, every decision with its reason. */
  plan: PrunePlan
}

/** Read the bucket, plan, and (unless dry run) delete. Throws `CdnPublishError` (`PRUNE_FAILED`). */
export async function runPrune(input: PruneInput): Promise<PruneReport> {
  const { store, prefix, retention } = input
  const logger = input.logger ?? silentLogger
  const now = input.now ?? (() => new Date())
  const batchSize = Math.min(input.batchSize ?? MAX_DELETE_BATCH, MAX_DELETE_BATCH)
  const t0 = performance.now()
  const dryRun = input.dryRun ?? false

  if (prefix === '' && !retention.allowRootPrefix) {
    const skipped =
      'the prefix is empty, so a prune would judge every object in the bucket. Publish under a prefix, or set ' +
      'retention: { allowRootPrefix: true } if the whole bucket belongs to this site.'
    return skippedReport(dryRun, skipped, t0)
  }

  const deleted: string[] = []
  /** Releases whose record this prune deleted, over all its plans. */
  const deletedReleases: string[] = []
  /** Record objects this prune deleted, over all its plans. */
  const deletedRecords = new Set<string>()
  const recordsDir = prefix + RECORDS_DIR
  let bytesFreed = 0
  for (let plans = 1; plans <= MAX_PLANS; plans++) {
    const { plan, current, recordKeys, planned } = await readAndPlan(input, plans === 1 ? input.known : undefined, now().getTime())
    const report = (extra: Partial<PruneReport> = {}): PruneReport => ({
      dryRun,
      ...(plan.refused ? { refused: plan.refused } : {}),
      ...(current !== undefined || input.assumeCurrent ? { current: input.assumeCurrent?.release ?? current } : {}),
      releases: {
        kept: plan.releases.filter((r) => r.keep).map((r) => r.release),
        deleted: dryRun ? plan.releases.filter((r) => !r.keep).map((r) => r.release) : [...deletedReleases].sort(),
      },
      deleted: dryRun ? plan.deletions : deleted,
      failed: [],
      bytesFreed: dryRun ? plan.bytesFreed : bytesFreed,
      warnings: plan.warnings,
      plans,
      durationMs: Math.round(performance.now() - t0),
      plan,
      ...extra,
    })
    if (plans === 1) logger.info(startLine(store, prefix, retention, dryRun))
    for (const w of plan.warnings) logger.warn(w, Codes.PRUNE_KEPT)
    if (plan.refused || dryRun) {
      if (dryRun) printPlan(logger, plan)
      return report()
    }

    const size = new Map<string, number>()
    for (const o of plan.objects) if (o.action === 'delete') size.set(o.key, o.size)
    let changed = false
    for (let i = 0; i < plan.deletions.length; i += batchSize) {
      if (!(await recordsUnchanged(store, prefix, planned, deletedRecords))) {
        changed = true
        break
      }
      const batch = plan.deletions.slice(i, i + batchSize)
      const result = await store.deleteMany(batch)
      for (const key of result.deleted) {
        deleted.push(key)
        bytesFreed += size.get(key) ?? 0
        const release = recordKeys.get(key)
        if (release !== undefined) deletedReleases.push(release)
        if (key.startsWith(recordsDir)) deletedRecords.add(key)
      }
      if (result.errors.length) {
        // stop here: what is left (records last) is retried by the next prune
        return report({ failed: result.errors, durationMs: Math.round(performance.now() - t0) })
      }
    }
    if (!changed) return report({ durationMs: Math.round(performance.now() - t0) })
    logger.info('release records changed while pruning (a publish running?): reading the bucket again')
  }
  throw new CdnPublishError(
    Codes.PRUNE_FAILED,
    `the release records under ${prefix + RECORDS_DIR} kept changing while pruning (${MAX_PLANS} plans): ` +
      `stopped after deleting ${deleted.length} object(s), none of them named by a kept release. Prune again when the publishes are done.`,
    { deleted: deleted.length },
  )
}

/**
 * What the policy needs of each record, reduced as `readBucketState` reads it: its state, its times
 * and the keys it names. Each key is one string however many records name it.
 */
export function recordViews(prefix: string): RecordSummary<ReleaseRecordView> {
  /** Path (relative to the prefix) → its full key. */
  const keys = new Map<string, string>()
  const fullKey = (path: string) => {
    let key = keys.get(path)
    if (key === undefined) {
      key = prefix + path
      keys.set(path, key)
    }
    return key
  }
  const time = (t: string | undefined) => (t === undefined ? undefined : Date.parse(t))
  return (r, key) => {
    const view: ReleaseRecordView = { release: r.release, recordKey: key, state: r.state, createdAt: Date.parse(r.createdAt), keys: releasePaths(r).map(fullKey) }
    const publishedAt = time(r.publishedAt)
    const replacedAt = time(r.replacedAt)
    if (publishedAt !== undefined) view.publishedAt = publishedAt
    if (replacedAt !== undefined) view.replacedAt = replacedAt
    return view
  }
}

/** A state read with whole records, with each record reduced as the policy takes it. */
export function withRecordViews(state: BucketState): BucketState<ReleaseRecordView> {
  const view = recordViews(state.prefix)
  const records = new Map<string, ReleaseRecordView>()
  for (const [key, id] of state.recordKeys) records.set(id, view(state.records.get(id)!, key))
  return { ...state, records }
}

/** The bucket's state as the pure policy takes it. */
export function policyInput(state: BucketState<ReleaseRecordView>, retention: ResolvedRetention, now: number, assumeCurrent?: ReleaseRecord): PolicyInput {
  const { prefix } = state
  let current = state.current
  const views: ReleaseRecordView[] = []
  for (const id of state.recordKeys.values()) {
    const view = state.records.get(id)!
    if (assumeCurrent && id === assumeCurrent.release) continue
    // the release about to be published becomes current now; the one it replaces is replaced now
    views.push(assumeCurrent && id === current ? { ...view, state: 'replaced', replacedAt: now } : view)
  }
  const { allowRootPrefix: _, ...policy } = retention
  const listing = state.listing.map((o) => ({ key: o.key, size: o.size, lastModified: o.lastModified.getTime() }))
  if (assumeCurrent) {
    const view = recordViews(prefix)(assumeCurrent, `${prefix}${RECORDS_DIR}${assumeCurrent.release}.json`)
    views.push({ ...view, state: 'current', publishedAt: now })
    current = assumeCurrent.release
    // as if its publish had written its files too
    const listed = new Set(listing.map((o) => o.key))
    for (const key of view.keys) if (!listed.has(key)) listing.push({ key, size: assumeCurrent.files[key.slice(prefix.length)]?.size ?? 0, lastModified: now })
  }
  return {
    prefix,
    now,
    current,
    records: views,
    unreadableRecords: state.unreadable,
    listing,
    protectedKeys: [state.manifestKey],
    policy,
  }
}

/**
 * Reads the bucket and plans on it. Returns what the deletions need, not the state itself: the
 * listing can be large, and is not needed while deleting.
 */
async function readAndPlan(input: PruneInput, known: KnownState | undefined, now: number) {
  const { store, prefix } = input
  const state = await readBucketState(store, prefix, input.manifest, input.concurrency, known, recordViews(prefix))
  const plan = planPrune(policyInput(state, input.retention, now, input.assumeCurrent))
  return { plan, current: state.current, recordKeys: state.recordKeys, planned: recordLines(state.listing, prefix + RECORDS_DIR) }
}

/** The record objects of a listing (what a change under the prune is judged by), as comparable lines, sorted. */
function recordLines(listing: StoredObject[], dir: string): string[] {
  const lines: string[] = []
  for (const o of listing) if (o.key.startsWith(dir)) lines.push(`${o.key}\0${o.size}\0${o.etag}`)
  return lines.sort()
}

/** The release records are as the plan saw them (less those this prune deleted): same keys, sizes and ETags. */
async function recordsUnchanged(store: ObjectStore, prefix: string, planned: string[], deletedByUs: ReadonlySet<string>): Promise<boolean> {
  const dir = prefix + RECORDS_DIR
  const left = (lines: string[]) => lines.filter((l) => !deletedByUs.has(l.slice(0, l.indexOf('\0'))))
  const now = left(recordLines(await store.list(dir), dir))
  const then = left(planned)
  return now.length === then.length && now.every((l, i) => l === then[i])
}

function skippedReport(dryRun: boolean, skipped: string, t0: number): PruneReport {
  return {
    dryRun,
    skipped,
    releases: { kept: [], deleted: [] },
    deleted: [],
    failed: [],
    bytesFreed: 0,
    warnings: [],
    plans: 0,
    durationMs: Math.round(performance.now() - t0),
    plan: { releases: [], objects: [], deletions: [], bytesFreed: 0, warnings: [] },
  }
}

function startLine(store: ObjectStore, prefix: string, r: ResolvedRetention, dryRun: boolean): string {
  return (
    `${dryRun ? 'dry run: would prune' : 'pruning'} ${store.describe()} prefix ${JSON.stringify(prefix)}: keep ${r.releases} release(s), ` +
    `any published < ${formatDuration(r.minAge)} ago, any replaced < ${formatDuration(r.grace)} ago; orphans ${r.orphans}`
  )
}

/** The plan, as a dry run prints it: every release with its reasons, every deletion with its reason, kept objects by reason. */
function printPlan(logger: PublishLogger, plan: PrunePlan): void {
  logger.info('prune plan:')
  for (const r of plan.releases) logger.info(`  ${(r.keep ? 'keep' : 'delete').padEnd(8)} release ${r.release} (${r.reasons.join('; ')})`)
  for (const o of plan.objects) {
    if (o.action === 'delete') logger.info(`  ${'delete'.padEnd(8)} ${o.key} (${formatBytes(o.size)}, ${o.detail})`)
  }
  const kept = new Map<string, number>()
  for (const o of plan.objects) if (o.action === 'keep') kept.set(o.reason, (kept.get(o.reason) ?? 0) + 1)
  for (const [reason, n] of [...kept].sort()) logger.info(`  ${'keep'.padEnd(8)} ${n} object(s): ${KEEP_WORDS[reason] ?? reason}`)
}

const KEEP_WORDS: Record<string, string> = {
  'named-by-kept-release': 'named by a kept release',
  current: 'record of the current release',
  'recent-release': 'record of a recent release',
  'min-age': 'record of a release younger than minAge',
  grace: 'record of a release replaced less than grace ago',
  'pending-young': 'record of a publish that may be in progress',
  'orphan-kept': "named by no release record (orphans: 'keep')",
  'orphan-young': 'named by no release record, younger than grace',
  protected: 'the stable manifest or other data of this plugin',
  refused: 'nothing is deleted (see the warning)',
}

/** One line: what the prune did. */
export function pruneSummary(r: PruneReport): string {
  if (r.skipped) return 'prune skipped (empty prefix, see retention.allowRootPrefix)'
  if (r.refused) return 'nothing pruned (refused, see the warning)'
  const releases = `releases kept ${r.releases.kept.length}, deleted ${r.releases.deleted.length}`
  const objects = `${r.deleted.length} object(s) ${r.dryRun ? 'would be deleted' : 'deleted'}, ${formatBytes(r.bytesFreed)} ${r.dryRun ? 'would be freed' : 'freed'}`
  const failed = r.failed.length ? `, ${r.failed.length} failed` : ''
  return `${releases}; ${objects}${failed}`
}
