/**
 * Everything a publish reads before it plans: the local output (the manifest and the files it
 * names, checked against the output directory), the bucket (one listing, this release's record,
 * the release the stable manifest names, the previous release's record), the stored digests of
 * the listed files, and the objects the listing alone cannot judge.
 */
import { statSync } from 'node:fs'
import path from 'node:path'
import { integrity as sha384, md5Hex as md5 } from '../build/hash.js'
import type { CdnManifest } from '../build/manifest-types.js'
import { CdnPublishError, Codes } from '../errors.js'
import type { PrecompressEncoding, ResolvedPublishOptions } from '../options/types.js'
import {
  allFiles,
  localFiles,
  manifestFile,
  previousRelease,
  settleVerified,
  type LocalFile,
  type PlannedFile,
  type PublishPlan,
  type StoredDigest,
} from './plan.js'
import { recordKey, type ReleaseRecord } from '../bucket/record.js'
import { byteOrder } from '../bucket/store.js'
import { readRecord as readRecordAt, releaseOfManifest } from '../bucket/state.js'
import { pool } from '../util/pool.js'
import type { ObjectStore, StoredObject } from '../bucket/store.js'
import { decode, readLocalFile, storedBody, type LocalDir } from './encode.js'

/** The local output: the manifest (its bytes and digest) and the files it names. */
export interface Local {
  manifest: Pick<CdnManifest, 'release' | 'files' | 'label'>
  manifestPath: string
  manifestBytes: Uint8Array
  manifestDigest: StoredDigest
  manifestFile: LocalFile
  files: LocalFile[]
}

export async function readLocal(dir: LocalDir, manifestPath: string, o: ResolvedPublishOptions): Promise<Local> {
  const file = path.join(dir.path, manifestPath)
  let bytes: Buffer
  try {
    bytes = await readLocalFile(dir, manifestPath)
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
  checkFilesExist(dir, files, file)
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
function checkFilesExist(dir: LocalDir, files: LocalFile[], manifestFile: string): void {
  const wrong: string[] = []
  for (const f of files) {
    if (f.excluded) continue
    const pending = dir.pending?.get(f.path)
    const s = pending ? { isFile: () => true, size: pending.length } : statSync(path.join(dir.path, f.path), { throwIfNoEntry: false })
    if (!s?.isFile()) wrong.push(`${f.path} (missing)`)
    else if (s.size !== f.size) wrong.push(`${f.path} (${s.size} bytes, manifest says ${f.size})`)
  }
  if (wrong.length) {
    throw new CdnPublishError(
      Codes.PUBLISH_FAILED,
      `${wrong.length} file(s) of ${manifestFile} differ from the output directory ${dir.path}: ${wrong.slice(0, 10).join(', ')}` +
        `${wrong.length > 10 ? ', …' : ''}. Something changed the output after the build wrote the manifest: rebuild.`,
      { files: wrong.slice(0, 100) },
    )
  }
}

/** Keys expected per range of a split listing: one page each, with room for keys the build does not name. */
const KEYS_PER_LISTING_RANGE = 900

/** Where to cut the listing of the prefix: every KEYS_PER_LISTING_RANGE-th key the build publishes. */
export function listingSplits(local: Local): string[] {
  const keys = local.files.map((f) => f.key).sort(byteOrder)
  return keys.filter((_, i) => i > 0 && i % KEYS_PER_LISTING_RANGE === 0)
}

export interface Remote {
  listing: StoredObject[]
  listed: Map<string, StoredObject>
  ownRecord?: ReleaseRecord
  pointer: string | undefined
  previousRecord?: ReleaseRecord
}

/** The bucket as a publish knows it: its objects, the records it read or wrote, the current release. */
export interface KnownState {
  listing: StoredObject[]
  records: ReleaseRecord[]
  current: string | undefined
}

/** What was read of the bucket, with what was written over it. */
export function knownState(remote: Remote, written: Map<string, StoredObject>, records: ReleaseRecord[], current = remote.pointer): KnownState {
  const listing = [...remote.listing.filter((o) => !written.has(o.key)), ...written.values()]
  const byRelease = new Map([remote.ownRecord, remote.previousRecord, ...records].filter((r): r is ReleaseRecord => r !== undefined).map((r) => [r.release, r]))
  return { listing, records: [...byRelease.values()], current }
}

export async function readRemote(store: ObjectStore, prefix: string, local: Local, listing: StoredObject[]): Promise<Remote> {
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
export async function digestListed(dir: LocalDir, files: LocalFile[], remote: Remote, concurrency: number): Promise<Map<string, StoredDigest>> {
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
    const { size, md5: digest } = await storedBody(dir, f, undefined)
    digests.set(f.path, { size, md5: digest })
  })
  return digests
}

const digestKey = (integrity: string, encoding: PrecompressEncoding | undefined) => `${integrity}\0${encoding ?? ''}`

/** Read the objects the listing could not judge and settle them: present, or a conflict. */
export async function verifyInconclusive(plan: PublishPlan, store: ObjectStore, concurrency: number): Promise<PublishPlan> {
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
