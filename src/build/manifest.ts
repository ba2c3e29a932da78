import { createHash } from 'node:crypto'
import { closeSync, openSync, readSync } from 'node:fs'
import { contentTypeOf } from './content-type.js'
import { hexHash, integrity } from './hash.js'
import type { CdnManifest, ManifestEntry, ManifestFile } from './manifest-types.js'

export type { CdnManifest, ManifestEntry, ManifestFile } from './manifest-types.js'

/** A file that will be published, as the manifest describes it: its bytes, or where to read them. */
export type OutputFile = { fileName: string; immutable: boolean } & ({ bytes: Uint8Array | string } | { path: string })

export interface ManifestInput {
  files: Iterable<OutputFile>
  entries: Record<string, ManifestEntry>
  aliases: Record<string, string>
  base: string
  label?: string
}

/** Describe one file: size, SRI integrity, content type, immutability. */
export function describeFile(file: OutputFile): ManifestFile {
  const { size, integrity: sri } =
    'path' in file
      ? fileDigest(file.path)
      : { size: typeof file.bytes === 'string' ? Buffer.byteLength(file.bytes) : file.bytes.byteLength, integrity: integrity(file.bytes) }
  return { size, integrity: sri, contentType: contentTypeOf(file.fileName), immutable: file.immutable }
}

/** Size and SRI integrity of a file on disk, read in chunks (memory stays bounded for large files). */
function fileDigest(file: string): { size: number; integrity: string } {
  const hash = createHash('sha384')
  const chunk = Buffer.allocUnsafe(1 << 20)
  const fd = openSync(file, 'r')
  let size = 0
  try {
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; size += n) hash.update(chunk.subarray(0, n))
  } finally {
    closeSync(fd)
  }
  return { size, integrity: `sha384-${hash.digest('base64')}` }
}

/** Release id: a hash of the sorted `(path, integrity)` list, so identical builds are one release. */
export function releaseId(files: Record<string, ManifestFile>): string {
  return hexHash(
    Object.keys(files)
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
