/**
 * The retention decision: which releases are kept, and which listed objects may be deleted.
 * Pure: no I/O and no clock (the time is an input), so the same input always gives the same plan.
 *
 * The caller lists the objects under the prefix first and reads the release records afterwards:
 * a publish writes its record before any of its files, so every file in the listing is then named
 * by a record the caller has read.
 */
import { META_DIR, RECORDS_DIR } from '../bucket/record.js'
import type { RetentionPolicy } from '../options/types.js'
import { formatDuration } from '../util/duration.js'

export interface ReleaseRecordView {
  /** Release id. */
  release: string
  /** Key of the record object itself (under `<prefix>.cdn-publish/releases/`). */
  recordKey: string
  /**
   * `'pending'` = publish started, never became current; `'current'` | `'replaced'` as last
   * written. The authoritative current release is `PolicyInput.current`.
   */
  state: 'pending' | 'current' | 'replaced'
  /** Creation time of the record (ms since the epoch). */
  createdAt: number
  /** First time it became current (undefined while pending). */
  publishedAt?: number
  /** Last time it stopped being current (when another release, or a rollback, replaced it). */
  replacedAt?: number
  /** Every object key (full key, including prefix) the release needs: its files, not the stable manifest key. */
  keys: string[]
}

export interface ListedObject {
  key: string
  size: number
  /** ms since the epoch. */
  lastModified: number
}

export interface PolicyInput {
  /** `''` or a prefix ending with `/`. */
  prefix: string
  /** ms since the epoch. */
  now: number
  /** Release id the stable manifest names now (undefined if none). */
  current: string | undefined
  records: ReleaseRecordView[]
  /** Keys of record objects that exist but could not be read/parsed: the plan then deletes nothing. */
  unreadableRecords?: string[]
  /** Every object under the prefix (may include record objects and the stable manifest). */
  listing: ListedObject[]
  /** Keys never to delete even if no record names them (the stable manifest, a report file...). */
  protectedKeys?: string[]
  policy: RetentionPolicy
}

export type KeepReason =
  | 'current'
  | 'recent-release'
  | 'min-age'
  | 'grace'
  | 'pending-young'
  | 'named-by-kept-release'
  | 'orphan-kept'
  | 'orphan-young'
  | 'protected'
  | 'refused'

export type DeleteReason = 'release-expired' | 'file-of-expired-releases-only' | 'orphan-expired' | 'pending-abandoned'

export interface ReleaseDecision {
  release: string
  keep: boolean
  /** Human-readable, e.g. `current`, `one of the 3 most recent releases`, `replaced 3h ago (< grace 48h)`. */
  reasons: string[]
}

export interface ObjectDecision {
  key: string
  size: number
  action: 'keep' | 'delete'
  reason: KeepReason | DeleteReason
  detail: string
}

export interface PrunePlan {
  /** One decision per record, sorted by release id. */
  releases: ReleaseDecision[]
  /** Every listed object with its decision, sorted by key. */
  objects: ObjectDecision[]
  /** Keys to delete, in safe order: release files first, then orphans, then the records of deleted releases last. */
  deletions: string[]
  /** Sum of the listed sizes of `deletions`. */
  bytesFreed: number
  /** Set when the plan refuses to delete anything, with the reason. */
  refused?: string
  /** Things worth telling the user that do not stop the plan (clock skew, inconsistent records...). */
  warnings: string[]
}


/** How long a pending release (a publish under way) is kept at least, even with a shorter `grace`. */
export const PENDING_WAIT_MIN = 60 * 60 * 1000

/** Keep reasons of releases, strongest first: the order in which a file is attributed to a kept release. */
const RELEASE_KEEP_ORDER: KeepReason[] = ['current', 'recent-release', 'min-age', 'grace', 'pending-young']

interface Evaluated {
  record: ReleaseRecordView
  keep: boolean
  /** Strongest reason (the first of `RELEASE_KEEP_ORDER` that applies), or why it goes. */
  reason: KeepReason | DeleteReason
  reasons: string[]
  /** Position among the releases that have been current, most recently replaced first (-1 otherwise). */
  rank: number
}

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

function sample(items: string[], max = 3): string {
  const shown = items.slice(0, max).map((k) => JSON.stringify(k))
  return items.length > max ? `${shown.join(', ')} and ${items.length - max} more` : shown.join(', ')
}

/** Why the input cannot be planned on safely, or undefined. Linear in the size of the input. */
function refusal(input: PolicyInput): string | undefined {
  const { prefix, policy, records } = input
  if (prefix !== '' && !prefix.endsWith('/')) {
    return `the prefix ${JSON.stringify(prefix)} is not normalised (it must be empty or end with "/"): nothing is deleted.`
  }
  if (!Number.isFinite(input.now)) return `the current time is not a finite number: nothing is deleted.`
  if (
    !Number.isInteger(policy.releases) ||
    policy.releases < 1 ||
    !(Number.isFinite(policy.minAge) && policy.minAge >= 0) ||
    !(Number.isFinite(policy.grace) && policy.grace >= 0) ||
    (policy.orphans !== 'keep' && policy.orphans !== 'delete')
  ) {
    return `the retention policy is invalid (${JSON.stringify(policy)}): nothing is deleted.`
  }
  const unreadable = input.unreadableRecords ?? []
  if (unreadable.length > 0) {
    return (
      `${unreadable.length} release record(s) could not be read: ${sample([...unreadable].sort(cmpStr))}. ` +
      `Nothing is deleted while a record is unreadable, since the files it names may still be in use: ` +
      `fix or remove these objects, then prune again.`
    )
  }
  const outside: string[] = []
  for (const o of input.listing) if (!o.key.startsWith(prefix)) outside.push(o.key)
  if (outside.length > 0) {
    return (
      `the listing holds ${outside.length} key(s) outside the prefix ${JSON.stringify(prefix)} (${sample(outside.sort(cmpStr))}): ` +
      `nothing outside the prefix may ever be deleted, so nothing is deleted.`
    )
  }
  const recordsDir = prefix + RECORDS_DIR
  const seen = new Set<string>()
  const seenKeys = new Set<string>()
  for (const r of records) {
    if (seen.has(r.release)) return `two records describe release ${JSON.stringify(r.release)}: nothing is deleted.`
    seen.add(r.release)
    if (!r.recordKey.startsWith(recordsDir)) {
      return `the record of release ${JSON.stringify(r.release)} is at ${JSON.stringify(r.recordKey)}, not under ${JSON.stringify(recordsDir)}: nothing is deleted.`
    }
    if (seenKeys.has(r.recordKey)) return `two releases claim the record ${JSON.stringify(r.recordKey)}: nothing is deleted.`
    seenKeys.add(r.recordKey)
    const times = [r.createdAt, r.publishedAt, r.replacedAt]
    if (!Number.isFinite(r.createdAt) || times.some((t) => t !== undefined && !Number.isFinite(t))) {
      return `the record of release ${JSON.stringify(r.release)} has an invalid timestamp: nothing is deleted.`
    }
    let bad: string[] | undefined
    for (const k of r.keys) {
      if (!k.startsWith(prefix)) (bad ??= []).push(k)
    }
    if (bad) {
      return (
        `release ${JSON.stringify(r.release)} names ${bad.length} key(s) outside the prefix ${JSON.stringify(prefix)} ` +
        `(${sample(bad.sort(cmpStr))}): its record is inconsistent, so nothing is deleted.`
      )
    }
  }
  if (input.current !== undefined && !seen.has(input.current)) {
    return (
      `the stable manifest names release ${JSON.stringify(input.current)}, but no record of it exists: ` +
      `nothing is deleted until the manifest and the release records agree (republish, or roll back to a recorded release).`
    )
  }
  return undefined
}

function refusedPlan(input: PolicyInput, refused: string): PrunePlan {
  const releases = input.records
    .map((r) => ({ release: r.release, keep: true, reasons: ['refused: nothing is deleted'] }))
    .sort((a, b) => cmpStr(a.release, b.release))
  const objects = input.listing
    .map((o): ObjectDecision => ({ key: o.key, size: o.size, action: 'keep', reason: 'refused', detail: refused }))
    .sort((a, b) => cmpStr(a.key, b.key))
  return { releases, objects, deletions: [], bytesFreed: 0, refused, warnings: [] }
}

/** Decides, for each release record, whether the release is kept. */
function evaluateReleases(input: PolicyInput, warnings: string[]): Evaluated[] {
  const { now, policy, current, records } = input
  const min = formatDuration(policy.minAge)
  const grace = formatDuration(policy.grace)
  const ago = (t: number) => `${formatDuration(now - t)} ago`

  /** Releases that have been current at some time (the current one included). */
  const wasCurrent = (r: ReleaseRecordView) => r.release === current || r.publishedAt !== undefined || r.state !== 'pending'
  const publishedRef = (r: ReleaseRecordView) => r.publishedAt ?? r.createdAt

  // Publication times of the releases that have been current, ascending: the release published
  // right after another one replaced it, when a record lacks a trustworthy `replacedAt`.
  const published = records.filter(wasCurrent).map(publishedRef).sort((a, b) => a - b)
  const nextPublished = (t: number): number | undefined => {
    let lo = 0
    let hi = published.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (published[mid] <= t) lo = mid + 1
      else hi = mid
    }
    return lo < published.length ? published[lo] : undefined
  }

  // Last-modified time of each listed record object, built only if a record needs it.
  let recordTimes: Map<string, number> | undefined
  const writtenAt = (r: ReleaseRecordView): number | undefined => {
    if (!recordTimes) {
      recordTimes = new Map()
      for (const o of input.listing) if (o.key.startsWith(input.prefix + RECORDS_DIR)) recordTimes.set(o.key, o.lastModified)
    }
    return recordTimes.get(r.recordKey)
  }

  const replaced: { record: ReleaseRecordView; replacedAt: number }[] = []
  const pending: ReleaseRecordView[] = []
  let currentRecord: ReleaseRecordView | undefined
  for (const r of records) {
    if (r.release === current) currentRecord = r
    else if (!wasCurrent(r)) pending.push(r)
    else if (r.state === 'replaced' && r.replacedAt !== undefined) replaced.push({ record: r, replacedAt: r.replacedAt })
    else {
      // The record was not updated when the release stopped being current (an interrupted
      // publish or rollback). Its replacement time is estimated never earlier than the truth: a
      // 'replaced' record was written when it was replaced; a record still saying 'current' was
      // written when the release last became current, and the next release published after that
      // replaced it at the latest. Without such evidence, it counts as replaced just now.
      const written = writtenAt(r)
      let at: number | undefined
      let how: string
      if (r.state === 'replaced') {
        at = written
        how = 'when its record was last written'
      } else {
        at = written === undefined ? undefined : nextPublished(Math.max(written, publishedRef(r)))
        how = 'when the next release was published'
      }
      if (at === undefined || at > now) {
        at = now
        how = 'just now'
      }
      warnings.push(
        `release ${r.release} is not current but its record says ${r.state === 'replaced' ? 'nothing about when it was replaced' : `state '${r.state}'`}; ` +
          `it is treated as replaced ${how}${how === 'just now' ? '' : ` (${ago(at)})`}.`,
      )
      replaced.push({ record: r, replacedAt: at })
    }
  }
  replaced.sort(
    (a, b) =>
      b.replacedAt - a.replacedAt ||
      publishedRef(b.record) - publishedRef(a.record) ||
      cmpStr(b.record.release, a.record.release),
  )
  const byCount = current === undefined ? policy.releases : policy.releases - 1

  const evaluated: Evaluated[] = []
  const skew = (what: string, r: ReleaseRecordView) =>
    warnings.push(`release ${r.release}: ${what} is in the future (clock skew?); it is treated as age 0 and the release is kept.`)

  if (currentRecord) {
    evaluated.push({ record: currentRecord, keep: true, reason: 'current', reasons: ['current'], rank: -1 })
  }

  replaced.forEach(({ record: r, replacedAt }, rank) => {
    const reasons: string[] = []
    const kinds: KeepReason[] = []
    const notKept: string[] = []
    if (rank < byCount) {
      kinds.push('recent-release')
      reasons.push(`one of the ${policy.releases} most recent releases`)
    } else {
      notKept.push(`not among the ${policy.releases} most recent releases`)
    }
    const pub = publishedRef(r)
    if (pub > now) {
      skew(r.publishedAt === undefined ? 'createdAt' : 'publishedAt', r)
      kinds.push('min-age')
      reasons.push(`published in the future (clock skew): treated as age 0`)
    } else if (now - pub < policy.minAge) {
      kinds.push('min-age')
      reasons.push(`published ${ago(pub)} (< minAge ${min})`)
    } else {
      notKept.push(`published ${ago(pub)} (>= minAge ${min})`)
    }
    if (replacedAt > now) {
      skew('replacedAt', r)
      kinds.push('grace')
      reasons.push(`replaced in the future (clock skew): treated as age 0`)
    } else if (now - replacedAt < policy.grace) {
      kinds.push('grace')
      reasons.push(`replaced ${ago(replacedAt)} (< grace ${grace})`)
    } else {
      notKept.push(`replaced ${ago(replacedAt)} (>= grace ${grace})`)
    }
    if (kinds.length > 0) evaluated.push({ record: r, keep: true, reason: kinds[0], reasons, rank })
    else evaluated.push({ record: r, keep: false, reason: 'release-expired', reasons: notKept, rank })
  })

  // An unfinished publish is waited for at least PENDING_WAIT_MIN, whatever grace says: with a
  // short grace, a prune would otherwise delete the files of a publish still uploading.
  const pendingWait = Math.max(policy.grace, PENDING_WAIT_MIN)
  const waitText = policy.grace >= PENDING_WAIT_MIN ? `grace ${grace}` : `${formatDuration(PENDING_WAIT_MIN)}, the least an unfinished publish is waited for`
  for (const r of pending) {
    const reasons: string[] = []
    const kinds: KeepReason[] = []
    if (r.createdAt > now) {
      skew('createdAt', r)
      kinds.push('min-age')
      reasons.push(`pending, created in the future (clock skew): treated as age 0`)
    } else {
      const age = now - r.createdAt
      if (age < policy.minAge) {
        kinds.push('min-age')
        reasons.push(`created ${ago(r.createdAt)} (< minAge ${min})`)
      }
      if (age < pendingWait) {
        kinds.push('pending-young')
        reasons.push(`pending, created ${ago(r.createdAt)} (< ${waitText}): its publish may be in progress`)
      }
    }
    if (kinds.length > 0) evaluated.push({ record: r, keep: true, reason: kinds[0], reasons, rank: -1 })
    else {
      evaluated.push({
        record: r,
        keep: false,
        reason: 'pending-abandoned',
        reasons: [`pending, created ${ago(r.createdAt)} (>= ${waitText}): an abandoned publish`],
        rank: -1,
      })
    }
  }
  return evaluated
}

/**
 * Decides which releases are kept and which listed objects are deleted, and in which order.
 *
 * - Kept releases: the current one; the `releases − 1` most recently replaced ones (`releases` when
 *   no release is current); any published (pending: created) less than `minAge` ago; any replaced
 *   less than `grace` ago; a pending one created less than `grace` (at least `PENDING_WAIT_MIN`, 1 h) ago. A timestamp in the future
 *   counts as age 0 (kept) and adds a warning. Any other pending release is an abandoned publish.
 *   A record not updated when its release stopped being current gets a replacement time estimated
 *   never earlier than the truth (its record's last write, the next publication), with a warning.
 * - A listed key named by a kept release, a record of a kept release, a protected key and any other
 *   object under `<prefix>.cdn-publish/` are kept. A key named only by deleted releases is deleted;
 *   a key no record names (an orphan) only with `orphans: 'delete'` and when older than `grace`.
 * - Deletions: release files, then orphans, then the records of deleted releases, each group sorted.
 * - Refuses (deletes nothing, says why) on unreadable records, a key outside the prefix in the
 *   listing or in a record, a current release without a record, or otherwise inconsistent input.
 */
export function planPrune(input: PolicyInput): PrunePlan {
  const refused = refusal(input)
  if (refused !== undefined) return refusedPlan(input, refused)

  const { prefix, now, policy } = input
  const warnings: string[] = []
  const evaluated = evaluateReleases(input, warnings)

  // Kept releases in attribution order: strongest reason first, then most recent.
  const kept = evaluated
    .filter((e) => e.keep)
    .sort(
      (a, b) =>
        RELEASE_KEEP_ORDER.indexOf(a.reason as KeepReason) - RELEASE_KEEP_ORDER.indexOf(b.reason as KeepReason) ||
        a.rank - b.rank ||
        cmpStr(a.record.release, b.record.release),
    )
  const deleted = evaluated.filter((e) => !e.keep).sort((a, b) => cmpStr(a.record.release, b.record.release))

  /**
   * Key → the first kept release (in attribution order) that names it; for a key named only by
   * deleted releases, whether all of them are abandoned pending publishes. One entry per key,
   * however many releases name it.
   */
  const namedBy = new Map<string, Evaluated | boolean>()
  const recordOf = new Map<string, Evaluated>()
  for (const e of kept) {
    recordOf.set(e.record.recordKey, e)
    for (const k of e.record.keys) if (!namedBy.has(k)) namedBy.set(k, e)
  }
  for (const e of deleted) {
    recordOf.set(e.record.recordKey, e)
    const abandoned = e.reason === 'pending-abandoned'
    for (const k of e.record.keys) {
      const prev = namedBy.get(k)
      if (prev === undefined) namedBy.set(k, abandoned)
      else if (prev === true && !abandoned) namedBy.set(k, false)
    }
  }

  const keptDetail = new Map<Evaluated, string>()
  const detailOf = (e: Evaluated) => {
    let d = keptDetail.get(e)
    if (d === undefined) {
      d = `named by release ${e.record.release} (${e.reasons.join('; ')})`
      keptDetail.set(e, d)
    }
    return d
  }

  const protectedKeys = new Set(input.protectedKeys ?? [])
  const metaDir = prefix + META_DIR
  const recordsDir = prefix + RECORDS_DIR
  const graceText = formatDuration(policy.grace)

  // A store lists in key order: sorted only when it is not.
  const byKey = (a: ListedObject, b: ListedObject) => cmpStr(a.key, b.key)
  const listing = input.listing.every((o, i, all) => i === 0 || byKey(all[i - 1], o) <= 0) ? input.listing : [...input.listing].sort(byKey)
  const objects: ObjectDecision[] = []
  const fileDeletions: string[] = []
  const orphanDeletions: string[] = []
  const recordDeletions: string[] = []
  const unknownMeta: string[] = []
  let futureOrphans = 0
  let currentFound = 0
  let bytesFreed = 0
  let last: string | undefined
  const keep = (o: ListedObject, reason: KeepReason, detail: string) => objects.push({ key: o.key, size: o.size, action: 'keep', reason, detail })
  const remove = (o: ListedObject, reason: DeleteReason, detail: string, into: string[]) => {
    objects.push({ key: o.key, size: o.size, action: 'delete', reason, detail })
    into.push(o.key)
    bytesFreed += o.size
  }
  for (const o of listing) {
    if (o.key === last) continue // a key listed twice
    last = o.key
    const { key } = o

    if (protectedKeys.has(key)) {
      keep(o, 'protected', 'protected key: never deleted')
      continue
    }
    const rec = recordOf.get(key)
    if (rec?.keep) {
      keep(o, rec.reason as KeepReason, `record of kept release ${rec.record.release} (${rec.reasons.join('; ')})`)
      continue
    }
    const by = namedBy.get(key)
    if (typeof by === 'object') {
      if (by.reason === 'current') currentFound++
      keep(o, 'named-by-kept-release', detailOf(by))
      continue
    }
    if (rec) {
      remove(o, rec.reason as DeleteReason, `record of deleted release ${rec.record.release} (${rec.reasons.join('; ')}): deleted after its files`, recordDeletions)
      continue
    }
    if (by !== undefined) {
      if (by) remove(o, 'pending-abandoned', 'named only by abandoned pending releases', fileDeletions)
      else remove(o, 'file-of-expired-releases-only', 'named only by releases that are deleted', fileDeletions)
      continue
    }
    if (key.startsWith(metaDir)) {
      if (key.startsWith(recordsDir) && key.endsWith('.json')) unknownMeta.push(key)
      keep(o, 'protected', `under ${META_DIR}: the plugin's own data is never deleted as an orphan`)
      continue
    }
    // An orphan: no record names it.
    if (policy.orphans === 'keep') {
      keep(o, 'orphan-kept', "named by no release record; kept (orphans: 'keep')")
      continue
    }
    if (o.lastModified > now) futureOrphans++
    const age = Math.max(0, now - o.lastModified)
    if (age > policy.grace) {
      remove(o, 'orphan-expired', `named by no release record, modified ${formatDuration(age)} ago (> grace ${graceText})`, orphanDeletions)
    } else {
      keep(o, 'orphan-young', `named by no release record, modified ${formatDuration(age)} ago (<= grace ${graceText})`)
    }
  }

  if (unknownMeta.length > 0) {
    warnings.push(`${unknownMeta.length} object(s) look like release records but were not read: ${sample(unknownMeta)}; they are kept.`)
  }
  if (futureOrphans > 0) {
    warnings.push(`${futureOrphans} orphan object(s) were modified in the future (clock skew?); they are treated as age 0 and kept.`)
  }
  const cur = evaluated.find((e) => e.reason === 'current')
  if (cur && currentFound < new Set(cur.record.keys).size) {
    const listed = new Set<string>()
    for (const o of input.listing) listed.add(o.key)
    const missing = [...new Set(cur.record.keys)].filter((k) => !listed.has(k))
    if (missing.length > 0) {
      warnings.push(`the current release ${cur.record.release} names ${missing.length} key(s) missing from the bucket: ${sample(missing.sort(cmpStr))}.`)
    }
  }

  const releases = evaluated
    .map((e) => ({ release: e.record.release, keep: e.keep, reasons: e.reasons }))
    .sort((a, b) => cmpStr(a.release, b.release))
  return {
    releases,
    objects,
    // Each group is already in key order (the listing was sorted).
    deletions: fileDeletions.concat(orphanDeletions, recordDeletions),
    bytesFreed,
    warnings: [...warnings].sort(cmpStr),
  }
}
