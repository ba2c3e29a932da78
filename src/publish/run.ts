/**
 * Carry out a publish against an `ObjectStore`, in the order that keeps every deploy safe:
 *
 * 0. read: one paged listing of the prefix, this release's record and the stable manifest's
 *    current release (only when they exist and the listing cannot answer)
 * 1. the release record, `pending`, so a concurrent prune sees its files as referenced
 * 2. every fingerprinted file not already present
 * 3. every other file whose size or ETag differs
 * 4. the stable manifest, then the record marked `current`, then the previous one `replaced`
 *
 * A failure stops before step 4: the previous release stays fully served, and running the same
 * build again completes the same release, uploading only what is missing.
 */
import { createHash } from 'node:crypto'
import { createReadStream, statSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { brotliCompress, brotliDecompress, constants as zlib, gunzip, gzip } from 'node:zlib'
import { integrity as sha384, md5Hex as md5 } from '../build/hash.js'
import type { CdnManifest } from '../build/manifest-types.js'
import { CdnPublishError, Codes } from '../errors.js'
import type { PrecompressEncoding, ResolvedPublishOptions, SourcedOption } from '../options/publish.js'
import {
  allFiles,
  localFiles,
  manifestFile,
  planPublish,
  previousRelease,
  releaseRecord,
  settleVerified,
  type LocalFile,
  type PlannedFile,
  type PlannedSnapshot,
  type PublishPlan,
  type StoredDigest,
} from './plan.js'
import { formatBytes, formatSeconds, Progress, silentLogger, type PublishLogger } from '../log.js'
import { META_DIR, recordKey, type ReleaseRecord } from '../bucket/record.js'
import { readRecord as readRecordAt, releaseOfManifest } from '../bucket/state.js'
import { pool } from '../util/pool.js'
import { restore } from '../rollback.js'
import type { ObjectStore, StoredObject } from '../bucket/store.js'

export const REPORT_FILE = 'cdn-publish-report.json'

/** Options of a publish with a bucket. */
export type PublishRunOptions = ResolvedPublishOptions & { bucket: string }

export interface RunPublishInput {
  store: ObjectStore
  /** Absolute output directory of the build. */
  outDir: string
  /** Manifest file name relative to `outDir` (also its key relative to the prefix). */
  manifest: string
  options: PublishRunOptions
  logger?: PublishLogger
  /** Clock for record timestamps. */
  now?: () => Date
}

/** One line of the report's `uploaded` / `skipped` / `conflicts` lists. */
export interface ReportFile {
  path: string
  key: string
  /** Bytes sent (after precompression) for uploads; the file's size otherwise. */
  bytes: number
  reason: string
}

/** `cdn-publish-report.json`: what a publish did (or, in a dry run, would do). */
export interface PublishReport {
  version: 1
  ok: boolean
  dryRun: boolean
  release: string | undefined
  label?: string
  bucket: string
  prefix: string
  endpoint: string
  /** Each value that can come from the environment, with its source. */
  settings: Record<SourcedOption, { value: unknown; source: string }>
  /** Uploaded objects (dry run: objects that would be uploaded), release record and manifest included. */
  uploaded: ReportFile[]
  skipped: ReportFile[]
  conflicts: ReportFile[]
  /** The release that was current before, when any. */
  previous?: string
  /** Bytes of the build's published files, and bytes sent. */
  bytes: { total: number; uploaded: number }
  durations: { totalMs: number; readMs: number; uploadMs: number }
  startedAt: string
  finishedAt?: string
  error?: { code: string; message: string }
}

const RECORD_CACHE_CONTROL = 'no-cache'
const SNAPSHOT_CACHE_CONTROL = 'no-cache'
const JSON_TYPE = 'application/json; charset=utf-8'

/** What a publish did. */
export interface PublishOutcome {
  report: PublishReport
  /** The release's record as it stands after the publish (dry run: as it would). */
  record: ReleaseRecord
  /** The release was current before this publish, which changed nothing that names files. */
  wasCurrent: boolean
  /**
   * The bucket as this publish knows it: what it read, with what it wrote on top. A prune that
   * follows starts from it instead of reading everything again (it lists the records before each
   * batch of deletions anyway, so a concurrent writer is still noticed).
   */
  known: { listing: StoredObject[]; records: ReleaseRecord[]; current: string | undefined }
  /** One line for the log: what was uploaded, skipped and sent. */
  summary: string
}

/**
 * Publish the build in `outDir` through `store`. Throws `CdnPublishError`; writes the report
 * either way. The summary line is the caller's to print (a prune may add to it).
 */
export async function runPublish(input: RunPublishInput): Promise<PublishOutcome> {
  const { store, outDir, options: o } = input
  const logger = input.logger ?? silentLogger
  const now = input.now ?? (() => new Date())
  const t0 = performance.now()
  const report = emptyReport(o, now())
  const tracker = new Tracker(o, report)
  let uploadStart: number | undefined
  try {
    const { local, remote, digests, plan, label } = await prepare(input, report, logger, now)
    report.durations.readMs = Math.round(performance.now() - t0)
    tracker.plan = plan

    const conflicts = allFiles(plan).filter((f) => f.action === 'conflict')
    report.conflicts = conflicts.map((f) => reportFile(f, f.size))
    if (o.dryRun) {
      printPlan(logger, plan)
      fillDryRunReport(report, plan)
      if (conflicts.length) throw conflictError(o, plan, conflicts, true)
      const record = currentRecord(plan, label, local, digests, now().toISOString())
      return { report, record, wasCurrent: !plan.activate.write, summary: dryRunSummary(plan, performance.now() - t0), known: knownState(remote, new Map(), []) }
    }
    if (conflicts.length) throw conflictError(o, plan, conflicts, false)

    uploadStart = performance.now()
    const written = new Map<string, StoredObject>()
    const recording: ObjectStore = {
      ...store,
      put: async (req) => {
        await store.put(req)
        written.set(req.key, { key: req.key, size: req.contentLength, etag: req.md5 ?? '', lastModified: now() })
      },
    }
    const record = await execute({ store: recording, outDir, options: o, plan, local, digests, previousRecord: remote.previousRecord, label, logger, now, report, tracker })
    const previous = plan.previous?.write && remote.previousRecord ? { ...remote.previousRecord, state: 'replaced' as const, replacedAt: record.publishedAt! } : remote.previousRecord
    const own = plan.activate.write ? record : (remote.ownRecord ?? record)
    const known = knownState(remote, written, [own, ...(previous ? [previous] : [])], record.release)
    return { report, record, wasCurrent: !plan.activate.write, summary: summaryLine(plan, report, performance.now() - t0), known }
  } catch (err) {
    const e = tracker.explain(toPublishError(err, o))
    report.ok = false
    report.error = { code: e.code, message: e.message }
    throw e
  } finally {
    report.durations.totalMs = Math.round(performance.now() - t0)
    if (uploadStart !== undefined) report.durations.uploadMs = Math.round(performance.now() - uploadStart)
    report.finishedAt = now().toISOString()
    await writeReport(outDir, input.manifest, report, logger)
  }
}

/** Every read, then the plan: the local output, the listing, the records, inconclusive objects. */
async function prepare(input: RunPublishInput, report: PublishReport, logger: PublishLogger, now: () => Date) {
  const { store, outDir, options: o } = input
  // the listing needs only the prefix: it runs while the local output is read and checked
  const listing = store.list(o.prefix)
  listing.catch(() => {}) // awaited below; a local failure first must not leave it unhandled
  const local = await readLocal(outDir, input.manifest, o)
  report.release = local.manifest.release
  const label = o.label ?? local.manifest.label
  if (label !== undefined) report.label = label
  report.bytes.total = local.files.filter((f) => !f.excluded).reduce((n, f) => n + f.size, 0)
  logger.info(startLine(o, local, label, report.bytes.total))

  const remote = await readRemote(store, o.prefix, local, await listing)
  const digests = await digestListed(outDir, local.files, remote, o.concurrency)
  const plan = await verifyInconclusive(
    planPublish({
      release: local.manifest.release,
      prefix: o.prefix,
      label,
      files: local.files,
      manifest: local.manifestFile,
      manifestDigest: local.manifestDigest,
      listing: remote.listing,
      digests,
      ...(remote.ownRecord ? { ownRecord: remote.ownRecord } : {}),
      pointer: remote.pointer,
      ...(remote.previousRecord ? { previousRecord: remote.previousRecord } : {}),
      now: now().toISOString(),
    }),
    store,
    o.concurrency,
  )
  if (plan.previous) report.previous = plan.previous.release
  return { local, remote, digests, plan, label }
}

// ---------------------------------------------------------------------------------------------
// reading

interface Local {
  manifest: Pick<CdnManifest, 'release' | 'files' | 'label'>
  manifestPath: string
  manifestBytes: Uint8Array
  manifestDigest: StoredDigest
  manifestFile: LocalFile
  files: LocalFile[]
}

async function readLocal(outDir: string, manifestPath: string, o: PublishRunOptions): Promise<Local> {
  const file = path.join(outDir, manifestPath)
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    throw new CdnPublishError(
      Codes.PUBLISH_FAILED,
      `cannot read the manifest ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): publishing needs the build's manifest. Build first, and keep the manifest option enabled.`,
      { file },
    )
  }
  let manifest: CdnManifest
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as CdnManifest
  } catch (err) {
    throw new CdnPublishError(Codes.PUBLISH_FAILED, `the manifest ${file} is not valid JSON (${(err as Error).message}): rebuild.`, { file })
  }
  if (manifest?.version !== 1 || typeof manifest.release !== 'string' || !manifest.files || typeof manifest.files !== 'object') {
    throw new CdnPublishError(Codes.PUBLISH_FAILED, `${file} is not a manifest written by this plugin (version 1 with release and files): rebuild.`, { file })
  }
  for (const p of Object.keys(manifest.files)) {
    if (p === '' || p.startsWith('/') || p.split('/').some((s) => s === '..' || s === '.' || s === '') || p.includes('\\')) {
      throw new CdnPublishError(Codes.PUBLISH_FAILED, `the manifest ${file} names a file outside the output directory (${JSON.stringify(p)}): rebuild.`, { file })
    }
  }
  const files = localFiles(manifest, o.prefix, o)
  checkFilesExist(outDir, files, file)
  return {
    manifest,
    manifestPath,
    manifestBytes: bytes,
    manifestDigest: { size: bytes.length, md5: md5(bytes) },
    manifestFile: manifestFile(manifestPath, o.prefix, bytes.length, sha384(bytes), o),
    files,
  }
}

/** Every published file is in the output directory with the size the manifest says. */
function checkFilesExist(outDir: string, files: LocalFile[], manifestFile: string): void {
  const wrong: string[] = []
  for (const f of files) {
    if (f.excluded) continue
    const s = statSync(path.join(outDir, f.path), { throwIfNoEntry: false })
    if (!s?.isFile()) wrong.push(`${f.path} (missing)`)
    else if (s.size !== f.size) wrong.push(`${f.path} (${s.size} bytes, manifest says ${f.size})`)
  }
  if (wrong.length) {
    throw new CdnPublishError(
      Codes.PUBLISH_FAILED,
      `${wrong.length} file(s) of ${manifestFile} differ from the output directory ${outDir}: ${wrong.slice(0, 10).join(', ')}` +
        `${wrong.length > 10 ? ', …' : ''}. Something changed the output after the build wrote the manifest: rebuild.`,
      { files: wrong.slice(0, 100) },
    )
  }
}

interface Remote {
  listing: StoredObject[]
  listed: Map<string, StoredObject>
  ownRecord?: ReleaseRecord
  pointer: string | undefined
  previousRecord?: ReleaseRecord
}

/** What was read of the bucket, with what was written over it. */
function knownState(remote: Remote, written: Map<string, StoredObject>, records: ReleaseRecord[], current = remote.pointer): PublishOutcome['known'] {
  const listing = [...remote.listing.filter((o) => !written.has(o.key)), ...written.values()]
  const byRelease = new Map([remote.ownRecord, remote.previousRecord, ...records].filter((r): r is ReleaseRecord => r !== undefined).map((r) => [r.release, r]))
  return { listing, records: [...byRelease.values()], current }
}

async function readRemote(store: ObjectStore, prefix: string, local: Local, listing: StoredObject[]): Promise<Remote> {
  const listed = new Map(listing.map((o) => [o.key, o]))
  const release = local.manifest.release
  // an unreadable record counts as none: this release's own is rewritten whole; another one's
  // files stay, since a prune refuses to delete anything while a record is unreadable
  const readRecord = async (id: string) => (listed.has(recordKey(prefix, id)) ? readRecordAt(store, recordKey(prefix, id)) : undefined)

  const ownRecord = await readRecord(release)
  const stable = listed.get(local.manifestFile.key)
  let pointer: string | undefined
  if (stable && stable.size === local.manifestDigest.size && stable.etag === local.manifestDigest.md5) pointer = release
  else if (stable) pointer = releaseOfManifest(await store.getBytes(local.manifestFile.key))
  const previous = previousRelease(release, pointer, ownRecord)
  const previousRecord = previous !== undefined ? await readRecord(previous) : undefined
  return {
    listing,
    listed,
    pointer,
    ...(ownRecord ? { ownRecord } : {}),
    ...(previousRecord ? { previousRecord } : {}),
  }
}

/**
 * Digest of the stored form of every listed file: from a release record that already knows it
 * (same integrity, same encoding), otherwise by reading (and encoding) the local file.
 */
async function digestListed(outDir: string, files: LocalFile[], remote: Remote, concurrency: number): Promise<Map<string, StoredDigest>> {
  const known = new Map<string, StoredDigest>()
  for (const r of [remote.previousRecord, remote.ownRecord]) {
    for (const f of Object.values(r?.files ?? {})) {
      if (f.md5 !== undefined) known.set(digestKey(f.integrity, f.encoding), { md5: f.md5, size: f.storedSize ?? f.size })
    }
  }
  const digests = new Map<string, StoredDigest>()
  const todo: LocalFile[] = []
  for (const f of files) {
    if (f.excluded || !remote.listed.has(f.key)) continue
    const hit = known.get(digestKey(f.integrity, f.encoding))
    if (hit) digests.set(f.path, hit)
    else todo.push(f)
  }
  await pool(todo, Math.max(concurrency, 4), async (f) => {
    const { size, md5: digest } = await storedBody(outDir, f, undefined)
    digests.set(f.path, { size, md5: digest })
  })
  return digests
}

const digestKey = (integrity: string, encoding: PrecompressEncoding | undefined) => `${integrity}\0${encoding ?? ''}`

/** Read the objects the listing could not judge and settle them: present, or a conflict. */
async function verifyInconclusive(plan: PublishPlan, store: ObjectStore, concurrency: number): Promise<PublishPlan> {
  const settled = new Map<string, PlannedFile>()
  await pool(allFiles(plan).filter((f) => f.action === 'verify'), concurrency, async (f) => {
    const bytes = await store.getBytes(f.key)
    settled.set(f.path, settleVerified(f, bytes !== undefined && (await sameContent(bytes, f))))
  })
  if (!settled.size) return plan
  const settle = (f: PlannedFile) => settled.get(f.path) ?? f
  return { ...plan, immutable: plan.immutable.map(settle), mutable: plan.mutable.map(settle) }
}

async function sameContent(stored: Uint8Array, f: LocalFile): Promise<boolean> {
  if (sha384(stored) === f.integrity) return true
  const decoders: PrecompressEncoding[] = f.encoding ? [f.encoding] : []
  if (stored[0] === 0x1f && stored[1] === 0x8b && f.encoding !== 'gzip') decoders.push('gzip')
  for (const enc of decoders) {
    const decoded = await decode(stored, enc).catch(() => undefined)
    if (decoded && sha384(decoded) === f.integrity) return true
  }
  return false
}

// ---------------------------------------------------------------------------------------------
// writing

interface ExecuteInput {
  store: ObjectStore
  outDir: string
  options: PublishRunOptions
  plan: PublishPlan
  local: Local
  digests: Map<string, StoredDigest>
  previousRecord: ReleaseRecord | undefined
  label: string | undefined
  logger: PublishLogger
  now: () => Date
  report: PublishReport
  tracker: Tracker
}

/**
 * Put the previous release's bytes back under the mutable keys a failed switch overwrote, from
 * its snapshots. Best effort: says what could not be restored (the rerun completes the release).
 */
async function revert(store: ObjectStore, o: PublishRunOptions, files: PlannedFile[], previous: ReleaseRecord | undefined): Promise<{ restored: string[]; failed: string[] }> {
  const restored: string[] = []
  const failed: string[] = []
  let todo = files
  // the store that just failed is often back within seconds (a restart, a throttling burst):
  // a few more rounds, further apart, before giving up
  for (const pause of REVERT_PAUSES_MS) {
    const again: PlannedFile[] = []
    await pool(todo, o.concurrency, async (f) => {
      const done = await revertOne(store, o, f, previous)
      if (done === 'restored') restored.push(f.key)
      else if (done === 'failed' && previous?.snapshots?.[f.path]) again.push(f)
      else if (done === 'failed') failed.push(f.key)
    })
    todo = again
    if (todo.length === 0) break
    await new Promise((resolve) => setTimeout(resolve, pause))
  }
  failed.push(...todo.map((f) => f.key))
  return { restored: restored.sort(), failed: failed.sort() }
}

/** Whether the stable manifest holds these bytes; `undefined` when the store cannot tell (still failing). */
async function manifestLanded(store: ObjectStore, key: string, md5Hex: string): Promise<boolean | undefined> {
  for (const pause of REVERT_PAUSES_MS) {
    try {
      return (await store.head(key))?.etag === md5Hex
    } catch {
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
  return undefined
}

/** Pauses between the rounds of a revert (about 8 s in all). */
const REVERT_PAUSES_MS = [250, 500, 1000, 2000, 4000, 0]

/** Put one file back: `'restored'`, `'new'` (the previous release had no such file), or `'failed'`. */
async function revertOne(store: ObjectStore, o: PublishRunOptions, f: PlannedFile, previous: ReleaseRecord | undefined): Promise<'restored' | 'new' | 'failed'> {
  const snap = previous?.snapshots?.[f.path]
  if (!snap) return previous?.files[f.path] ? 'failed' : 'new'
  try {
    const body = await store.getBytes(o.prefix + snap.key)
    if (body === undefined) return 'failed'
    await restore(store, f.key, body, snap)
    return 'restored'
  } catch {
    return 'failed'
  }
}

/** The record of a release once current. */
function currentRecord(plan: PublishPlan, label: string | undefined, local: Local, digests: Map<string, StoredDigest>, publishedAt: string): ReleaseRecord {
  const files = local.files.map((file) => ({ file, digest: digests.get(file.path) }))
  const previous = plan.previous?.release
  return releaseRecord(plan, label, local.manifestPath, files, 'current', { publishedAt, ...(previous ? { previous } : {}) })
}

async function execute(x: ExecuteInput): Promise<ReleaseRecord> {
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

  // 2. fingerprinted files, 3. everything else and the snapshots
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
  const bySize = (a: { size: number; path: string }, b: { size: number; path: string }) => b.size - a.size || (a.path < b.path ? -1 : 1)
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
      if (gone.length) x.logger.warn(`${gone.length} file(s) this release reuses were deleted meanwhile (a concurrent prune?); uploading them again: ${gone.slice(0, 5).map((g) => g.key).join(', ')}${gone.length > 5 ? ', …' : ''}`)
      await pool(gone, x.options.concurrency, (g) => g.again())
    }
  }

  // 4. the switch: the mutable files (every file they name is in place now), the stable
  // manifest, then the records. Should it fail before the manifest is written, the mutable files
  // already overwritten get the previous release's bytes back from its snapshots.
  tracker.step = 4
  const publishedAt = x.now().toISOString()
  // a stable manifest that already has this build's bytes names this release
  tracker.switched = plan.manifest.action === 'skip'
  const overwritten: PlannedFile[] = []
  let manifestSent = false
  try {
    await pool(plan.mutable.filter((f) => f.action === 'upload').sort(bySize), x.options.concurrency, async (f) => {
      overwritten.push(f)
      await upload(f)
    })
    if (plan.manifest.action === 'upload') {
      const m = plan.manifest
      manifestSent = true
      await store.put({
        key: m.key,
        body: local.manifestBytes,
        contentLength: local.manifestBytes.length,
        ...putHeaders(m),
        md5: local.manifestDigest.md5,
      })
      tracker.switched = true
      report.uploaded.push(reportFile(m, local.manifestBytes.length))
      report.bytes.uploaded += local.manifestBytes.length
    }
  } catch (err) {
    if (!tracker.switched) {
      // a manifest PUT that failed may still have landed (the answer was lost): look before
      // putting the previous bytes back under a manifest that already names this release
      const landed = manifestSent ? await manifestLanded(store, plan.manifest.key, local.manifestDigest.md5) : false
      if (landed === true) tracker.switched = true
      else if (landed === false) tracker.reverted = await revert(store, x.options, overwritten, x.previousRecord)
      else tracker.reverted = { restored: [], failed: overwritten.map((f) => f.key).sort() }
    }
    throw err
  }
  const record = currentRecord(plan, label, local, x.digests, publishedAt)
  if (plan.activate.write) await putJson(store, plan.record.key, record, report, plan.activate.reason)
  tracker.step = 5
  const prev = x.previousRecord
  if (plan.previous?.write && prev) {
    await putJson(store, plan.previous.key, { ...prev, state: 'replaced', replacedAt: publishedAt }, report, plan.previous.reason)
  }
  return record
}

/** What a file is stored as: bytes in memory, or (large and stored as it is) a file streamed from disk. */
interface StoredBody {
  body: Uint8Array | { path: string }
  size: number
  md5: string
}

/** Files at least this large that are stored as they are get hashed and uploaded as streams. */
const STREAM_MIN_BYTES = 8 * 1024 * 1024

/**
 * The body to store for a file (precompressed when planned). With `check`, the file's bytes are
 * first checked against the manifest's integrity. Memory stays bounded for large files: they are
 * hashed in one streaming pass, then streamed to the store, whose Content-MD5 check catches a
 * file that changed in between.
 */
async function storedBody(outDir: string, f: LocalFile, check: { key: string } | undefined): Promise<StoredBody> {
  const file = path.join(outDir, f.path)
  const changed = () =>
    new CdnPublishError(
      Codes.PUBLISH_FAILED,
      `${f.path} in ${outDir} no longer has the bytes the manifest describes (integrity ${f.integrity}): something changed the output after the build. Rebuild and publish again.`,
      { key: check?.key ?? f.key, file: f.path },
    )
  if (!f.encoding && f.size >= STREAM_MIN_BYTES) {
    const d = await hashFile(file)
    if (check && (d.size !== f.size || d.integrity !== f.integrity)) throw changed()
    return { body: { path: file }, size: d.size, md5: d.md5 }
  }
  const raw = await readFile(file)
  if (check && (raw.length !== f.size || sha384(raw) !== f.integrity)) throw changed()
  const body = f.encoding ? await encode(raw, f.encoding) : raw
  return { body, size: body.length, md5: md5(body) }
}

/** Size, SRI integrity and hex MD5 of a file, in one streaming pass. */
async function hashFile(file: string): Promise<{ size: number; integrity: string; md5: string }> {
  const sha = createHash('sha384')
  const m = createHash('md5')
  let size = 0
  for await (const chunk of createReadStream(file)) {
    sha.update(chunk as Buffer)
    m.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { size, integrity: `sha384-${sha.digest('base64')}`, md5: m.digest('hex') }
}

async function uploadFile(store: ObjectStore, outDir: string, f: PlannedFile): Promise<StoredDigest> {
  const { body, size, md5: digest } = await storedBody(outDir, f, { key: f.key })
  await store.put({ key: f.key, body, contentLength: size, ...putHeaders(f), md5: digest })
  return { size, md5: digest }
}

/** Store the snapshot of a mutable file (its stored bytes) or of the manifest; returns the bytes sent. */
async function putSnapshot(store: ObjectStore, outDir: string, local: Local, snap: PlannedSnapshot): Promise<number> {
  const { body, size, md5: digest } =
    snap.path === local.manifestPath
      ? { body: local.manifestBytes, size: local.manifestBytes.length, md5: local.manifestDigest.md5 }
      : await storedBody(outDir, snap.file, { key: snap.key })
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


const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)
const brotliAsync = promisify(brotliCompress)
const unbrotliAsync = promisify(brotliDecompress)

function encode(raw: Buffer, encoding: PrecompressEncoding): Promise<Buffer> {
  if (encoding === 'gzip') return gzipAsync(raw, { level: 9 })
  return brotliAsync(raw, {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
      [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length,
      [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
    },
  })
}

function decode(stored: Uint8Array, encoding: PrecompressEncoding): Promise<Buffer> {
  return encoding === 'gzip' ? gunzipAsync(stored) : unbrotliAsync(stored)
}

// ---------------------------------------------------------------------------------------------
// errors

/** Knows how far a publish got, to tell the user what is served now and how to finish. */
class Tracker {
  step: 0 | 1 | 2 | 3 | 4 | 5 = 0
  /** The stable manifest names the new release. */
  switched = false
  /** What a failed switch put back of the mutable files it had overwritten. */
  reverted: { restored: string[]; failed: string[] } | undefined
  plan: PublishPlan | undefined

  constructor(
    private readonly o: PublishRunOptions,
    private readonly report: PublishReport,
  ) {}

  explain(e: CdnPublishError): CdnPublishError {
    let message = e.message
    if (e.code === Codes.ACCESS_DENIED) {
      message +=
        ` Publishing needs s3:ListBucket on arn:aws:s3:::${this.o.bucket}, and s3:GetObject and s3:PutObject on ` +
        `arn:aws:s3:::${this.o.bucket}/${this.o.prefix}* (pruning also needs s3:DeleteObject).`
    }
    const release = this.report.release
    const prev = this.report.previous ?? this.plan?.previous?.release
    if (this.o.dryRun || this.step === 0) {
      if (!this.o.dryRun) message += ' Nothing was written.'
    } else if (this.step <= 3 || (this.step === 4 && !this.switched)) {
      const failed = this.reverted?.failed ?? []
      const served = prev ? `release ${prev}` : 'the previous release (if any)'
      message +=
        failed.length === 0
          ? ` The stable manifest was not changed${this.reverted?.restored.length ? ` and the mutable files already switched were put back` : ''}: ${served} is still served.`
          : ` The stable manifest was not changed, but ${failed.length} mutable file(s) already hold release ${release}'s bytes and could not be put back ` +
            `(${failed.slice(0, 5).join(', ')}${failed.length > 5 ? ', …' : ''}); every file they name is in the bucket.`
      message += ` Run the same build again to complete release ${release}; files already uploaded are skipped.`
    } else if (this.step === 4) {
      message += ` The stable manifest already names release ${release}; run the same build again to mark its record current.`
    } else {
      message += ` Release ${release} is published and current; marking release ${prev} replaced failed, run the same build again to finish.`
    }
    const data = { ...e.data, ...(release ? { release } : {}), step: this.step }
    return new CdnPublishError(e.code, message, data)
  }
}

function toPublishError(err: unknown, o: PublishRunOptions): CdnPublishError {
  if (err instanceof CdnPublishError) return err
  const e = err as NodeJS.ErrnoException
  const what = e?.path ? `${e.code ?? 'error'} on ${e.path}` : (e?.message ?? String(err))
  return new CdnPublishError(Codes.PUBLISH_FAILED, `publishing to s3://${o.bucket}/${o.prefix} failed: ${what}.`, { bucket: o.bucket })
}

function conflictError(o: PublishRunOptions, plan: PublishPlan, conflicts: PlannedFile[], dryRun: boolean): CdnPublishError {
  const where = `s3://${o.bucket}/${o.prefix} at ${endpointLabel(o)}`
  const list = conflicts
    .slice(0, 5)
    .map((f) => `${f.key} (stored: ${f.remote?.size} bytes, ETag ${f.remote?.etag}; local: ${f.size} bytes)`)
    .join(', ')
  return new CdnPublishError(
    Codes.IMMUTABLE_KEY_CONFLICT,
    `${conflicts.length} fingerprinted key(s) in ${where} already hold other bytes than this build's file of the same name: ${list}` +
      `${conflicts.length > 5 ? ', …' : ''}. A fingerprinted object is never overwritten: CDNs and browsers may cache it for a year. ` +
      'Find what wrote it (another tool or build publishing into the same prefix), then delete that object or publish under another prefix.' +
      (dryRun ? ' Dry run: nothing was written.' : ''),
    { bucket: o.bucket, release: plan.release, keys: conflicts.map((f) => f.key) },
  )
}

// ---------------------------------------------------------------------------------------------
// output

export function endpointLabel(o: Pick<ResolvedPublishOptions, 'endpoint' | 'region'>): string {
  return o.endpoint ?? `AWS S3${o.region ? ` (${o.region})` : ''}`
}

function shownValue(o: PublishRunOptions, k: SourcedOption): string {
  switch (k) {
    case 'prefix':
      return JSON.stringify(o.prefix)
    case 'region':
      return o.region ?? (o.endpoint ? 'us-east-1' : "the SDK's (AWS_PROFILE / config)")
    case 'endpoint':
      return o.endpoint ?? 'AWS S3'
    case 'label':
      return o.label === undefined ? 'none' : JSON.stringify(o.label)
    default:
      return String(o[k])
  }
}

const SOURCED: SourcedOption[] = ['bucket', 'prefix', 'region', 'endpoint', 'forcePathStyle', 'dryRun', 'label']

function startLine(o: PublishRunOptions, local: Local, label: string | undefined, bytes: number): string {
  const count = local.files.filter((f) => !f.excluded).length
  const settings = SOURCED.map((k) => `${k} ${shownValue(o, k)} (${o.sources[k]})`).join(', ')
  return (
    `${o.dryRun ? 'dry run: would publish' : 'publishing'} release ${local.manifest.release}${label ? ` "${label}"` : ''} ` +
    `to s3://${o.bucket}/${o.prefix} at ${endpointLabel(o)}: ${count} files, ${formatBytes(bytes)}. Settings: ${settings}`
  )
}

function summaryLine(plan: PublishPlan, report: PublishReport, ms: number): string {
  const files = report.uploaded.filter((f) => f.key !== plan.manifest.key && !f.key.startsWith(plan.prefix + META_DIR)).length
  const skipped = [...plan.immutable, ...plan.mutable].filter((f) => f.action === 'skip').length
  const manifest = plan.manifest.action === 'upload' ? ' and the manifest' : ''
  const previous = plan.previous ? ` (was ${plan.previous.release})` : ''
  return (
    `published release ${plan.release} in ${formatSeconds(ms)}: ${files} files${manifest} uploaded, ${skipped} skipped, ` +
    `${formatBytes(report.bytes.uploaded)} sent; current release ${plan.release}${previous}`
  )
}

function printPlan(logger: PublishLogger, plan: PublishPlan): void {
  const line = (action: string, what: string, detail: string) => logger.info(`  ${action.padEnd(8)} ${what} (${detail})`)
  logger.info(`plan for release ${plan.release}:`)
  logger.info(' 1. release record')
  line(plan.record.write ? 'write' : 'skip', plan.record.key, plan.record.reason)
  const files = (step: string, list: PlannedFile[]) => {
    logger.info(step)
    if (!list.length) logger.info('  (none)')
    for (const f of list) line(f.action, f.key, `${formatBytes(f.size)}, ${f.reason}`)
  }
  files(' 2. fingerprinted files', plan.immutable)
  logger.info(' 3. snapshots')
  for (const snap of plan.snapshots) if (snap.action === 'upload') line(snap.action, snap.key, `snapshot of ${snap.path}, ${snap.reason}`)
  const kept = plan.snapshots.filter((snap) => snap.action === 'skip').length
  if (kept) logger.info(`  ${'skip'.padEnd(8)} ${kept} snapshot(s) already stored`)
  files(' 4. switch: other files, then the manifest', plan.mutable)
  line(plan.manifest.action, plan.manifest.key, `${formatBytes(plan.manifest.size)}, ${plan.manifest.reason}`)
  line(plan.activate.write ? 'write' : 'skip', plan.record.key, plan.activate.reason)
  if (plan.previous) line(plan.previous.write ? 'write' : 'skip', plan.previous.key, plan.previous.reason)
}

function dryRunSummary(plan: PublishPlan, ms: number): string {
  const files = [...plan.immutable, ...plan.mutable]
  const up = files.filter((f) => f.action === 'upload')
  const manifest = plan.manifest.action === 'upload' ? ' and the manifest' : ''
  const bytes = up.reduce((n, f) => n + f.size, 0) + (manifest ? plan.manifest.size : 0)
  return (
    `dry run of release ${plan.release} in ${formatSeconds(ms)}: would upload ${up.length} files${manifest} ` +
    `(${formatBytes(bytes)}), skip ${files.length - up.length}; nothing was written`
  )
}

function reportFile(f: LocalFile & { reason: string }, bytes: number): ReportFile {
  return { path: f.path, key: f.key, bytes, reason: f.reason }
}

function fillDryRunReport(report: PublishReport, plan: PublishPlan): void {
  for (const f of allFiles(plan)) {
    if (f.action === 'upload') report.uploaded.push(reportFile(f, f.size))
    else if (f.action === 'skip') report.skipped.push(reportFile(f, f.size))
  }
  for (const snap of plan.snapshots) {
    if (snap.action === 'upload') report.uploaded.push({ path: snap.key.slice(snap.key.lastIndexOf('/') + 1), key: snap.key, bytes: snap.file.size, reason: `snapshot of ${snap.path}` })
  }
  report.bytes.uploaded = report.uploaded.reduce((n, f) => n + f.bytes, 0)
}

function emptyReport(o: PublishRunOptions, startedAt: Date): PublishReport {
  const settings = {} as PublishReport['settings']
  for (const k of SOURCED) settings[k] = { value: o[k] ?? null, source: o.sources[k] }
  return {
    version: 1,
    ok: true,
    dryRun: o.dryRun,
    release: undefined,
    bucket: o.bucket,
    prefix: o.prefix,
    endpoint: endpointLabel(o),
    settings,
    uploaded: [],
    skipped: [],
    conflicts: [],
    bytes: { total: 0, uploaded: 0 },
    durations: { totalMs: 0, readMs: 0, uploadMs: 0 },
    startedAt: startedAt.toISOString(),
  }
}

export async function writeReport(outDir: string, manifest: string, report: PublishReport, logger: PublishLogger): Promise<void> {
  const file = path.join(outDir, path.dirname(manifest), REPORT_FILE)
  try {
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, `${JSON.stringify(report, undefined, 2)}\n`)
  } catch (err) {
    logger.warn(`could not write ${file}: ${(err as Error).message}`)
  }
}
