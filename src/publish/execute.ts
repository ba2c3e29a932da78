/**
 * Steps 1–4 of a publish against the store (the order is explained in ./run.ts): the record
 * `pending`, the fingerprinted files, the snapshots, a re-check of the files this release reuses,
 * the switch (mutable files, the stable manifest; the mutable files put back should it fail),
 * then the previous record `replaced` and this release's `current`. Fills the report as it goes.
 */
import { md5Hex as md5 } from '../build/hash.js'
import { RELEASE_FILE } from '../build/manifest.js'
import { Codes } from '../errors.js'
import { allFiles, releaseRecord, type LocalFile, type PlannedFile, type PlannedSnapshot, type PublishPlan, type StoredDigest } from './plan.js'
import { Progress, type PublishLogger } from '../log.js'
import { recordKey, type ReleaseRecord } from '../bucket/record.js'
import { acquireLease, type Lease } from '../bucket/lease.js'
import { readRecord, releaseOfManifest } from '../bucket/state.js'
import { CdnPublishError } from '../errors.js'
import { pool } from '../util/pool.js'
import type { ObjectStore } from '../bucket/store.js'
import { storedBody } from './encode.js'
import type { Tracker } from './failure.js'
import type { Local } from './read.js'
import { reportFile, type PublishReport, type PublishRunOptions } from './report.js'
import { manifestLanded, revert } from './revert.js'

const RECORD_CACHE_CONTROL = 'no-cache'
const SNAPSHOT_CACHE_CONTROL = 'no-cache'
const JSON_TYPE = 'application/json; charset=utf-8'

export interface ExecuteInput {
  store: ObjectStore
  outDir: string
  options: PublishRunOptions
  plan: PublishPlan
  local: Local
  digests: Map<string, StoredDigest>
  previousRecord: ReleaseRecord | undefined
  /** ETag of the stable manifest as listed before planning (`undefined`: there was none). */
  manifestEtag: string | undefined
  label: string | undefined
  logger: PublishLogger
  now: () => Date
  report: PublishReport
  tracker: Tracker
}

/** The record of a release once current. */
export function currentRecord(plan: PublishPlan, label: string | undefined, local: Local, digests: Map<string, StoredDigest>, publishedAt: string): ReleaseRecord {
  const files = local.files.map((file) => ({ file, digest: digests.get(file.path) }))
  const previous = plan.previous?.release
  return releaseRecord(plan, label, local.manifestPath, files, 'current', { publishedAt, ...(previous ? { previous } : {}) })
}

/** What the records say after a publish: its own, and the one it marked replaced, if any. */
export interface Executed {
  record: ReleaseRecord
  replaced?: ReleaseRecord
}

/** Steps 1–4 of `plan`; returns the release's record as it now stands, `current`. */
export async function execute(x: ExecuteInput): Promise<Executed> {
  const { store, plan, local, report, tracker } = x
  const label = x.label
  for (const f of allFiles(plan)) if (f.action === 'skip') report.skipped.push(reportFile(f, f.size))

  // 1. the release record, pending
  tracker.step = 1
  const pendingFiles = local.files.map((file) => ({ file }))
  const previous = plan.previous?.release
  if (plan.record.write) {
    await putJson(store, plan.record.key, releaseRecord(plan, label, local.manifestPath, pendingFiles, 'pending', previous ? { previous } : {}), report, plan.record.reason)
  }

  // the uploads of steps 2 to 4: fingerprinted files, snapshots, mutable files
  const snapshots = plan.snapshots.filter((s) => s.action === 'upload')
  const uploads = [...plan.immutable, ...plan.mutable].filter((f) => f.action === 'upload')
  const progress = new Progress(x.logger, uploads.length + snapshots.length, [...uploads, ...snapshots.map((s) => s.file)].reduce((n, f) => n + f.size, 0))
  const upload = async (f: PlannedFile) => {
    const digest = await uploadFile(store, x.outDir, f)
    x.digests.set(f.path, digest)
    report.uploaded.push(reportFile(f, digest.size))
    report.bytes.uploaded += digest.size
    progress.add(f.size)
  }
  const uploadSnapshot = async (snap: PlannedSnapshot) => {
    const bytes = await putSnapshot(store, x.outDir, local, snap)
    report.uploaded.push({ path: snap.key.slice(snap.key.lastIndexOf('/') + 1), key: snap.key, bytes, reason: `snapshot of ${snap.path}` })
    report.bytes.uploaded += bytes
    progress.add(snap.file.size)
  }
  tracker.step = 2
  await pool(plan.immutable.filter((f) => f.action === 'upload').sort(bySize), x.options.concurrency, upload)
  // 3. the snapshots of the mutable files and the manifest (nothing served changes yet)
  tracker.step = 3
  await pool(snapshots, x.options.concurrency, uploadSnapshot)

  // Before the switch: what this release reuses must still be there. A prune that read the
  // records before this release's record existed may have deleted a file that only expired
  // releases named; it is uploaded again here, so the switch never names a missing file.
  if (plan.manifest.action === 'upload' || plan.activate.write) {
    const reused = [
      ...[...plan.immutable, ...plan.mutable].filter((f) => f.action === 'skip' && !f.excluded).map((f) => ({ key: f.key, again: () => upload(f) })),
      ...plan.snapshots.filter((snap) => snap.reason === 'present').map((snap) => ({ key: snap.key, again: () => uploadSnapshot(snap) })),
    ]
    if (reused.length) {
      const present = new Set((await store.list(x.options.prefix)).map((o) => o.key))
      const gone = reused.filter((r) => !present.has(r.key))
      if (gone.length) x.logger.warn(`${gone.length} file(s) this release reuses were deleted meanwhile (a concurrent prune?); uploading them again: ${gone.slice(0, 5).map((g) => g.key).join(', ')}${gone.length > 5 ? ', …' : ''}`, Codes.REUPLOADED)
      await pool(gone, x.options.concurrency, (g) => g.again())
    }
  }

  // 4. the switch, under the prefix's lease (./bucket/lease.ts): the mutable files (every file
  // they name is in place now), the stable manifest, then this release's record marked current.
  // Should it fail before the manifest is written, the mutable files already overwritten get the
  // previous release's bytes back from its snapshots.
  tracker.step = 4
  const switches =
    plan.manifest.action === 'upload' || plan.activate.write || plan.previous?.write === true || plan.mutable.some((f) => f.action === 'upload')
  if (!switches) return { record: currentRecord(plan, label, local, x.digests, x.now().toISOString()) }
  const lease = await acquireLease({ store, prefix: x.options.prefix, operation: 'publish', release: plan.release, label, logger: x.logger })
  try {
    if (lease.waitedFor) {
      const c = (report.concurrent ??= { waitedMs: 0, waitedFor: [], replanned: 0 })
      c.waitedMs += lease.waitedMs
      c.waitedFor.push(lease.waitedFor.release)
    }
    // what this publish planned on must still be current: another one may have switched while
    // this one uploaded or waited; then nothing served is touched and the caller plans again
    const stored = await store.head(plan.manifest.key)
    if (stored?.etag !== x.manifestEtag) throw new SwitchMoved(stored ? releaseOfManifest(await store.getBytes(plan.manifest.key)) : undefined)
    return await switchServed(x, upload, lease)
  } finally {
    await lease.release()
  }
}

/**
 * Another release became current between this publish's listing and its switch. Thrown before
 * anything served is written; `runPublish` plans again with the new current release as previous.
 */
export class SwitchMoved extends Error {
  constructor(readonly current: string | undefined) {
    super(`release ${current ?? '(unknown)'} became current meanwhile`)
  }
}

/** Step 4 under the lease: mutable files, the stable manifest, the records. */
async function switchServed(x: ExecuteInput, upload: (f: PlannedFile) => Promise<void>, lease: Lease): Promise<Executed> {
  const { store, plan, local, report, tracker } = x
  const label = x.label
  const publishedAt = x.now().toISOString()
  // a stable manifest that already has this build's bytes names this release
  tracker.switched = plan.manifest.action === 'skip'
  const overwritten: PlannedFile[] = []
  let manifestSent = false
  try {
    // the pages and other mutable files, then cdn-release.json (the skew guard tells pages to
    // reload toward the build it names: every page of that build is served by then)
    const mutable = plan.mutable.filter((f) => f.action === 'upload')
    for (const group of [mutable.filter((f) => f.path !== RELEASE_FILE), mutable.filter((f) => f.path === RELEASE_FILE)]) {
      await pool(group.sort(bySize), x.options.concurrency, async (f) => {
        overwritten.push(f)
        await upload(f)
      })
    }
    if (plan.manifest.action === 'upload') {
      const m = plan.manifest
      manifestSent = true
      lease.assertHeld()
      // conditional on what was read: should a writer that took no lease have switched
      // meanwhile, a store that honours conditions refuses it (412, PUBLISH_CONFLICT)
      try {
        await store.put({
          key: m.key,
          body: local.manifestBytes,
          contentLength: local.manifestBytes.length,
          ...putHeaders(m),
          md5: local.manifestDigest.md5,
          ...(x.manifestEtag !== undefined ? { ifMatch: x.manifestEtag } : { ifNoneMatch: true }),
        })
      } catch (err) {
        // a 412 may answer the SDK's retry of this very write, landed with its answer lost
        const ours = err instanceof CdnPublishError && err.code === Codes.PUBLISH_CONFLICT && (await manifestLanded(store, m.key, local.manifestDigest.md5)) === true
        if (!ours) throw err
      }
      tracker.switched = true
      report.uploaded.push(reportFile(m, local.manifestBytes.length))
      report.bytes.uploaded += local.manifestBytes.length
    }
  } catch (err) {
    if (!tracker.switched && err instanceof CdnPublishError && err.code === Codes.PUBLISH_CONFLICT && manifestSent) {
      // the condition failed (or the lease was lost): the manifest may name another release,
      // written without the lease; the mutable files get that release's bytes back
      const winner = releaseOfManifest(await store.getBytes(plan.manifest.key))
      const winnerRecord = winner !== undefined ? await readRecord(store, recordKey(x.options.prefix, winner)) : undefined
      tracker.winner = winner ?? '(not one of this plugin\'s)'
      tracker.reverted = await revert(store, x.options, overwritten, winnerRecord ?? x.previousRecord)
    } else if (!tracker.switched) {
      // a manifest PUT that failed may still have landed (the answer was lost): look before
      // putting the previous bytes back under a manifest that already names this release
      const landed = manifestSent ? await manifestLanded(store, plan.manifest.key, local.manifestDigest.md5) : false
      if (landed === true) tracker.switched = true
      else if (landed === false) tracker.reverted = await revert(store, x.options, overwritten, x.previousRecord)
      else tracker.reverted = { restored: [], failed: overwritten.map((f) => f.key).sort() }
    }
    throw err
  }
  // the release it replaces marked replaced, then this one current: should either write fail
  // (or the run stop), the rerun finds this release's record still pending, naming the previous
  // release, and does both; the other order could leave two records saying current. The
  // previous record is read again here, under the lease: the one listed may predate the last
  // writes of its own switch.
  let replaced: ReleaseRecord | undefined
  const prev = plan.previous && plan.previous.release !== plan.release ? await readRecord(store, plan.previous.key) : undefined
  if (prev && prev.state !== 'replaced') {
    replaced = { ...prev, state: 'replaced', replacedAt: publishedAt }
    await putJson(store, plan.previous!.key, replaced, report, `mark replaced (was ${prev.state})`)
  }
  const record = currentRecord(plan, label, local, x.digests, publishedAt)
  if (plan.activate.write) await putJson(store, plan.record.key, record, report, plan.activate.reason)
  return { record, ...(replaced ? { replaced } : {}) }
}

/** Largest first (the pool then ends with small files), ties by path. */
const bySize = (a: { size: number; path: string }, b: { size: number; path: string }) => b.size - a.size || (a.path < b.path ? -1 : 1)

async function uploadFile(store: ObjectStore, outDir: string, f: PlannedFile): Promise<StoredDigest> {
  const { body, size, md5: digest } = await storedBody({ path: outDir }, f, { key: f.key })
  await store.put({ key: f.key, body, contentLength: size, ...putHeaders(f), md5: digest })
  return { size, md5: digest }
}

/** Store the snapshot of a mutable file (its stored bytes) or of the manifest; returns the bytes sent. */
async function putSnapshot(store: ObjectStore, outDir: string, local: Local, snap: PlannedSnapshot): Promise<number> {
  const { body, size, md5: digest } =
    snap.path === local.manifestPath
      ? { body: local.manifestBytes, size: local.manifestBytes.length, md5: local.manifestDigest.md5 }
      : await storedBody({ path: outDir }, snap.file, { key: snap.key })
  const h = snap.file.headers
  await store.put({
    key: snap.key,
    body,
    contentLength: size,
    contentType: h.contentType,
    cacheControl: SNAPSHOT_CACHE_CONTROL,
    ...(h.contentEncoding !== undefined ? { contentEncoding: h.contentEncoding } : {}),
    md5: digest,
  })
  return size
}

function putHeaders(f: LocalFile) {
  const h = f.headers
  return {
    contentType: h.contentType,
    cacheControl: h.cacheControl,
    ...(h.contentEncoding !== undefined ? { contentEncoding: h.contentEncoding } : {}),
    ...(Object.keys(h.extra).length ? { metadata: { ...h.extra } } : {}),
  }
}

async function putJson(store: ObjectStore, key: string, value: unknown, report: PublishReport, reason: string): Promise<void> {
  const body = Buffer.from(`${JSON.stringify(value, undefined, 2)}\n`)
  await store.put({ key, body, contentLength: body.length, contentType: JSON_TYPE, cacheControl: RECORD_CACHE_CONTROL, md5: md5(body) })
  report.uploaded.push({ path: key.slice(key.lastIndexOf('/') + 1), key, bytes: body.length, reason })
  report.bytes.uploaded += body.length
}
