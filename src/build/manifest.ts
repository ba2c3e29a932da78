import { createHash } from 'node:crypto'
import { closeSync, openSync, readSync } from 'node:fs'
import { contentTypeOf } from './content-type.js'
import { hexHash, integrity } from './hash.js'
import type { CdnManifest, ManifestEntry, ManifestFile } from './manifest-types.js'

export type { CdnManifest, ManifestEntry, ManifestFile } from './manifest-types.js'

/** Size and SRI integrity of a file's bytes. */
export interface FileDigest {
  size: number
  integrity: string
}

/**
 * A file that will be published, as the manifest describes it: its bytes, where to read them, or
 * their digest when another file of the output has the same bytes (a public file and its
 * fingerprinted copy).
 */
export type OutputFile = { fileName: string; immutable: boolean } & ({ bytes: Uint8Array | string } | { path: string } | { digest: FileDigest })

export interface ManifestInput {
  files: Iterable<OutputFile>
  entries: Record<string, ManifestEntry>
  aliases: Record<string, string>
  base: string
  label?: string
}

/** Describe one file: size, SRI integrity, content type, immutability. */
export function describeFile(file: OutputFile): ManifestFile {
  const { size, integrity: sri } = 'digest' in file ? file.digest : 'path' in file ? fileDigest(file.path) : bytesDigest(file.bytes)
  return { size, integrity: sri, contentType: contentTypeOf(file.fileName), immutable: file.immutable }
}

/** Size and SRI integrity of bytes in memory. */
export function bytesDigest(bytes: Uint8Array | string): FileDigest {
  return { size: typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength, integrity: integrity(bytes) }
}

/** The buffer `fileDigest` reads into, allocated once (reads are synchronous, so one is enough). */
let readBuffer: Buffer | undefined

/**
 * Size and SRI integrity of a file on disk: a file that fits the buffer is hashed in one call, a
 * larger one in chunks (memory stays bounded for large files).
 */
function fileDigest(file: string): FileDigest {
  const chunk = (readBuffer ??= Buffer.allocUnsafe(1 << 20))
  const fd = openSync(file, 'r')
  try {
    let size = 0
    for (let n; size < chunk.length && (n = readSync(fd, chunk, size, chunk.length - size, null)) > 0; ) size += n
    if (size < chunk.length) return { size, integrity: integrity(chunk.subarray(0, size)) }
    const hash = createHash('sha384').update(chunk)
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; size += n) hash.update(chunk.subarray(0, n))
    return { size, integrity: `sha384-${hash.digest('base64')}` }
  } finally {
    closeSync(fd)
  }
}

/**
 * The stable file naming the live build and release, at the root of the published directory
 * (the skew guard's, ./skew-guard.ts).
 */
export const RELEASE_FILE = 'cdn-release.json'

/**
 * Release id: a hash of the sorted `(path, integrity)` list, so identical builds are one release.
 * `cdn-release.json` is left out: it carries the id.
 */
export function releaseId(files: Record<string, ManifestFile>): string {
  return hexHash(
    Object.keys(files)
      .filter((path) => path !== RELEASE_FILE)
      .sort()
      .map((path) => `${path}\0${files[path].integrity}`)
      .join('\n'),
  )
}

/** Build the manifest object. Deterministic: no timestamps, no absolute paths. */
export function createManifest(input: ManifestInput): CdnManifest {
  const files: Record<string, ManifestFile> = {}
  for (const file of input.files) files[file.fileName] = describeFile(file)
  return {
    version: 1,
    release: releaseId(files),
    ...(input.label ? { label: input.label } : {}),
    base: input.base,
    entries: input.entries,
    files,
    aliases: input.aliases,
  }
}

/** Stable JSON: object keys sorted at every level, two-space indent, trailing newline. */
export function stringifySorted(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), undefined, 2)}\n`
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key])
    return out
  }
  return value
}
