/**
 * Pure planning of a publish: from the local manifest, the bucket listing and the release records
 * read from the bucket, decide for every file whether it is uploaded, skipped or in conflict, and
 * with which headers. No I/O here; `run.ts` gathers the inputs and carries the plan out.
 */
import { createHash } from 'node:crypto'
import type { CdnManifest, ManifestFile } from '../build/manifest-types.js'
import type { PrecompressEncoding, ResolvedPublishOptions } from '../options/types.js'
import { recordKey, snapshotKey, type ReleaseFile, type ReleaseRecord, type Snapshot } from '../bucket/record.js'
import { byteOrder, type StoredObject } from '../bucket/store.js'

/** Headers an object is stored with. */
export interface ObjectHeaders {
  contentType: string
  cacheControl: string
  contentEncoding?: string
  /** Other headers (`x-amz-meta-*`, `content-disposition`, …), lower-case names. */
  extra: Record<string, string>
}

export type HeaderOptions = Pick<ResolvedPublishOptions, 'cacheControl' | 'headers' | 'precompress'>

/** Size and hex MD5 of the bytes as stored (after any precompression): what a listing's size and ETag describe. */
export interface StoredDigest {
  size: number
  md5: string
}

/** A file of the build as it will be published. */
export interface LocalFile {
  /** Path relative to the output directory (and to the prefix). */
  path: string
  key: string
  size: number
  integrity: string
  immutable: boolean
  headers: ObjectHeaders
  /** Precompression applied before upload. */
  encoding?: PrecompressEncoding
  /** Set when the file is not published at all. */
  excluded?: string
}

export type FileAction = 'upload' | 'skip' | 'verify' | 'conflict'

/** The decision for one file. */
export interface PlannedFile extends LocalFile {
  action: FileAction
  /** Why, in a few words: `new`, `changed`, `present`, `unchanged`, `headers changed`, … */
  reason: string
  /** What the listing showed under the key, when anything. */
  remote?: { size: number; etag: string }
}

/** A copy of a mutable file's stored bytes (or of the manifest), which a rollback restores. */
export interface PlannedSnapshot {
  /** Path of the file it copies. */
  path: string
  /** Full key of the copy (content-addressed: equal bytes share one). */
  key: string
  action: 'upload' | 'skip'
  reason: string
  file: LocalFile
}

/** The whole publish, step by step (numbers as in the documentation). */
export interface PublishPlan {
  release: string
  prefix: string
  /** Step 1: the release record, written `pending` unless it already says what it must. */
  record: { key: string; write: boolean; reason: string; createdAt: string }
  /** Step 2: fingerprinted files. */
  immutable: PlannedFile[]
  /** Step 3: the snapshots of the mutable files and of the manifest. */
  snapshots: PlannedSnapshot[]
  /** Step 4 (the switch): all other files, then the manifest. */
  mutable: PlannedFile[]
  /** Step 4: the stable manifest … */
  manifest: PlannedFile
  /** … then the record marked `current`. */
  activate: { write: boolean; reason: string }
  /** … and the previously current release marked `replaced`. */
  previous?: { release: string; key: string; write: boolean; reason: string }
}

// ---------------------------------------------------------------------------------------------
// headers

/**
 * Headers of one file: `Content-Type` from the manifest, `Cache-Control` by immutability, then
 * every matching header rule in order (for each header the last match wins), and
 * `Content-Encoding` when the file is precompressed. A rule that sets `Content-Encoding` itself
 * declares the bytes already encoded: such a file is not precompressed again.
 */
export function planHeaders(
  path: string,
  file: Pick<ManifestFile, 'contentType' | 'immutable'>,
  options: HeaderOptions,
  { precompress = true }: { precompress?: boolean } = {},
): { headers: ObjectHeaders; encoding?: PrecompressEncoding } {
  const set: Record<string, string> = {
    'content-type': file.contentType,
    'cache-control': file.immutable ? options.cacheControl.immutable : options.cacheControl.mutable,
  }
  for (const rule of options.headers) {
    if (rule.matchers.some((m) => m(path))) Object.assign(set, rule.headers)
  }
  let encoding: PrecompressEncoding | undefined
  if (precompress && options.precompress && set['content-encoding'] === undefined && options.precompress.matchers.some((m) => m(path))) {
    encoding = options.precompress.encoding
    set['content-encoding'] = encoding
  }
  const { 'content-type': contentType, 'cache-control': cacheControl, 'content-encoding': contentEncoding, ...extra } = set
  const headers: ObjectHeaders = { contentType, cacheControl, extra }
  if (contentEncoding !== undefined) headers.contentEncoding = contentEncoding
  return encoding ? { headers, encoding } : { headers }
}

/** A short, stable hash of a header set, kept in release records to notice header changes. */
export function headersHash(h: ObjectHeaders): string {
  const all: Record<string, string> = { ...h.extra, 'cache-control': h.cacheControl, 'content-type': h.contentType }
  if (h.contentEncoding !== undefined) all['content-encoding'] = h.contentEncoding
  const text = Object.keys(all)
    .sort()
    .map((k) => `${k}:${all[k]}`)
    .join('\n')
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}

export function isSourceMapPath(path: string): boolean {
  return path.endsWith('.map')
}

/**
 * Every file the manifest names, with its key and headers; source maps carry `excluded` when
 * `sourcemaps: 'skip'`. Fingerprinted files first, each group in byte order of the path.
 */
export function localFiles(
  manifest: Pick<CdnManifest, 'files'>,
  prefix: string,
  options: HeaderOptions & Pick<ResolvedPublishOptions, 'sourcemaps'>,
): LocalFile[] {
  const out: LocalFile[] = []
  for (const path of Object.keys(manifest.files).sort(byteOrder)) {
    const f = manifest.files[path]
    const { headers, encoding } = planHeaders(path, f, options)
    const file: LocalFile = { path, key: prefix + path, size: f.size, integrity: f.integrity, immutable: f.immutable, headers }
    if (encoding) file.encoding = encoding
    if (options.sourcemaps === 'skip' && isSourceMapPath(path)) file.excluded = 'source map (sourcemaps: skip)'
    out.push(file)
  }
  return [...out.filter((f) => f.immutable), ...out.filter((f) => !f.immutable)]
}

/** The stable manifest as a file to publish: mutable, never precompressed. */
export function manifestFile(path: string, prefix: string, size: number, integrity: string, options: HeaderOptions): LocalFile {
  const { headers } = planHeaders(path, { contentType: 'application/json; charset=utf-8', immutable: false }, options, { precompress: false })
  return { path, key: prefix + path, size, integrity, immutable: false, headers }
}

// ---------------------------------------------------------------------------------------------
// decisions

export interface PlanInput {
  release: string
  prefix: string
  label: string | undefined
  /** From `localFiles()`. */
  files: readonly LocalFile[]
  /** From `manifestFile()`, with the digest of the local manifest bytes. */
  manifest: LocalFile
  manifestDigest: StoredDigest
  /** Every object under the prefix. */
  listing: readonly StoredObject[]
  /** Digest of the bytes each file would be stored as, for every file whose key is listed. */
  digests: ReadonlyMap<string, StoredDigest>
  /** This release's record, when the bucket has one. */
  ownRecord?: ReleaseRecord
  /** The release the bucket's stable manifest names (`undefined`: none, or not a manifest of this plugin). */
  pointer: string | undefined
  /**
   * The record of the release this one replaces, when it exists: the one `pointer` names, or
   * (when the pointer already names this release but its record is still pending) the one this
   * release's record names as `previous`. `previousRelease()` says which to read.
   */
  previousRecord?: ReleaseRecord
  /** ISO time for a new record's `createdAt`. */
  now: string
}

/** Decide everything. Pure: the same input gives the same plan. */
export function planPublish(input: PlanInput): PublishPlan {
  const listed = new Map(input.listing.map((o) => [o.key, o]))
  // what the records know of the stored object (only entries written after an upload carry a digest)
  const known = (path: string): ReleaseFile | undefined =>
    [input.ownRecord?.files[path], input.previousRecord?.files[path]].find((e) => e?.md5 !== undefined)
  const decide = (f: LocalFile) => decideFile(f, listed.get(f.key), input.digests.get(f.path), known(f.path))

  const files = input.files.map(decide)
  const manifest = decideFile(input.manifest, listed.get(input.manifest.key), input.manifestDigest, undefined)
  const key = recordKey(input.prefix, input.release)
  const own = input.ownRecord
  const isCurrent = own?.state === 'current' && input.pointer === input.release
  const sameContent = own !== undefined && sameFiles(own, input.files) && (own.label ?? undefined) === input.label

  const previous = previousRelease(input.release, input.pointer, own)
  let record: PublishPlan['record']
  // a pending record is kept only while it names the release this one replaces: after another
  // release became current meanwhile, it is written again naming that one
  if (own && sameContent && own.state === 'pending' && own.previous === previous) record = { key, write: false, reason: 'pending record exists', createdAt: own.createdAt }
  else if (own && sameContent && isCurrent) record = { key, write: false, reason: 'release is current', createdAt: own.createdAt }
  else {
    const reason = !own ? 'new release' : !sameContent ? 'record differs' : own.state === 'pending' ? 'previous release changed' : `record was ${own.state}`
    record = { key, write: true, reason, createdAt: own?.createdAt ?? input.now }
  }

  const activate =
    isCurrent && sameContent && manifest.action === 'skip'
      ? { write: false, reason: 'release is current' }
      : { write: true, reason: isCurrent ? 'update current record' : 'mark current' }

  const plan: PublishPlan = {
    release: input.release,
    prefix: input.prefix,
    record,
    immutable: files.filter((f) => f.immutable),
    mutable: files.filter((f) => !f.immutable),
    snapshots: planSnapshots(input.prefix, [...input.files.filter((f) => !f.immutable && !f.excluded), input.manifest], listed),
    manifest,
    activate,
  }
  if (previous !== undefined) {
    const prev = input.previousRecord?.release === previous ? input.previousRecord : undefined
    plan.previous = {
      release: previous,
      key: recordKey(input.prefix, previous),
      write: prev?.state === 'current',
      reason: !prev ? 'no record' : prev.state === 'current' ? 'mark replaced' : `record is ${prev.state}`,
    }
  }
  return plan
}

/**
 * The release this publish replaces: the one the bucket's stable manifest names, or, when that is
 * already this release but its record was never marked current (a run that stopped inside step 4),
 * the one its record remembers.
 */
export function previousRelease(release: string, pointer: string | undefined, ownRecord: ReleaseRecord | undefined): string | undefined {
  if (pointer !== undefined && pointer !== release) return pointer
  if (pointer === release && ownRecord?.state === 'pending' && ownRecord.previous !== release) return ownRecord.previous
  return undefined
}

function planSnapshots(prefix: string, files: LocalFile[], listed: ReadonlyMap<string, StoredObject>): PlannedSnapshot[] {
  const first = new Map<string, string>()
  return files.map((file) => {
    const key = prefix + snapshotKey(file.integrity, file.encoding)
    const same = first.get(key)
    if (same === undefined) first.set(key, file.path)
    const [action, reason] =
      same !== undefined ? (['skip', `same bytes as ${same}`] as const) : listed.has(key) ? (['skip', 'present'] as const) : (['upload', 'new'] as const)
    return { path: file.path, key, action, reason, file }
  })
}

function decideFile(f: LocalFile, remote: StoredObject | undefined, digest: StoredDigest | undefined, known: ReleaseFile | undefined): PlannedFile {
  if (f.excluded) return { ...f, action: 'skip', reason: f.excluded }
  if (!remote) return { ...f, action: 'upload', reason: 'new' }
  const seen = { size: remote.size, etag: remote.etag }
  if (!digest) throw new Error(`planPublish: no digest for listed file ${f.path}`)
  const same = remote.size === digest.size && remote.etag === digest.md5
  const withRemote = (action: FileAction, reason: string): PlannedFile => ({ ...f, action, reason, remote: seen })

  if (same) {
    // the record that wrote these bytes knows their headers; a header change is an upload of the same bytes
    const stale = known?.md5 === remote.etag && known.headers !== undefined && known.headers !== headersHash(f.headers)
    if (stale) return withRemote('upload', 'headers changed')
    return withRemote('skip', f.immutable ? 'present' : 'unchanged')
  }
  if (!f.immutable) return withRemote('upload', 'changed')
  // A fingerprinted key with other bytes is never overwritten. When the listing cannot tell
  // (ETag of a multipart upload or of an encrypted object, another compression of the same
  // bytes), the object is read to compare its content.
  if (remote.size === digest.size || f.encoding !== undefined || !isPlainMd5(remote.etag)) {
    return withRemote('verify', 'listing inconclusive')
  }
  return withRemote('conflict', `exists with other bytes (size ${remote.size}, local ${digest.size})`)
}

function isPlainMd5(etag: string): boolean {
  return /^[0-9a-f]{32}$/i.test(etag)
}

function sameFiles(record: ReleaseRecord, files: readonly LocalFile[]): boolean {
  const published = files.filter((f) => !f.excluded)
  const paths = Object.keys(record.files)
  if (paths.length !== published.length) return false
  return published.every((f) => {
    const r = record.files[f.path]
    return r !== undefined && r.integrity === f.integrity && (r.encoding ?? undefined) === f.encoding
  })
}

/** Resolve a `verify` decision once the object's content is known. */
export function settleVerified(f: PlannedFile, sameContent: boolean): PlannedFile {
  return sameContent
    ? { ...f, action: 'skip', reason: 'present (same content)' }
    : { ...f, action: 'conflict', reason: `exists with other bytes (size ${f.remote?.size}, ETag ${f.remote?.etag})` }
}

/** Every file decision of the plan, in publishing order (the manifest last). */
export function allFiles(plan: PublishPlan): PlannedFile[] {
  return [...plan.immutable, ...plan.mutable, plan.manifest]
}

/** The record a plan writes: `pending` in step 1, `current` in step 4. */
export function releaseRecord(
  plan: PublishPlan,
  label: string | undefined,
  manifestPath: string,
  files: Iterable<{ file: LocalFile; digest?: StoredDigest }>,
  state: 'pending' | 'current',
  extra: { publishedAt?: string; previous?: string } = {},
): ReleaseRecord {
  const entries: Record<string, ReleaseFile> = {}
  for (const { file, digest } of files) {
    if (file.excluded) continue
    const e: ReleaseFile = { integrity: file.integrity, size: file.size, immutable: file.immutable }
    if (file.encoding) e.encoding = file.encoding
    if (digest) {
      e.md5 = digest.md5
      if (digest.size !== file.size) e.storedSize = digest.size
      e.headers = headersHash(file.headers)
    }
    entries[file.path] = e
  }
  const snapshots: Record<string, Snapshot> = {}
  for (const { path, key, file } of plan.snapshots ?? []) {
    const h = file.headers
    const s: Snapshot = { key: key.slice(plan.prefix.length), contentType: h.contentType, cacheControl: h.cacheControl }
    if (h.contentEncoding !== undefined) s.contentEncoding = h.contentEncoding
    if (Object.keys(h.extra).length) s.extra = { ...h.extra }
    snapshots[path] = s
  }
  const record: ReleaseRecord = {
    version: 1,
    release: plan.release,
    ...(label ? { label } : {}),
    state,
    createdAt: plan.record.createdAt,
    manifest: manifestPath,
    files: entries,
    snapshots,
  }
  if (extra.previous !== undefined) record.previous = extra.previous
  if (extra.publishedAt !== undefined) record.publishedAt = extra.publishedAt
  return record
}

export { byteOrder } from '../bucket/store.js'

