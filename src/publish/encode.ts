/**
 * The stored form of a local file: its bytes as they are, or precompressed (`Content-Encoding:
 * gzip` or `br`), with the size and MD5 the store will report; and decoding a stored object to
 * compare it with the local file.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { brotliCompress, brotliDecompress, constants as zlib, gunzip, gzip } from 'node:zlib'
import { integrity as sha384, md5Hex as md5 } from '../build/hash.js'
import { CdnPublishError, Codes } from '../errors.js'
import type { PrecompressEncoding } from '../options/types.js'
import type { LocalFile } from './plan.js'

/**
 * The directory being published: its files on disk and, in a dry run, the bytes the directory
 * pass would write into it (a rewritten page, a fingerprinted copy, the final manifest).
 */
export interface LocalDir {
  path: string
  pending?: ReadonlyMap<string, Uint8Array> | undefined
}

/** The bytes of a file of the directory (pending bytes first). */
export async function readLocalFile(dir: LocalDir, rel: string): Promise<Buffer> {
  const pending = dir.pending?.get(rel)
  return pending ? Buffer.from(pending) : readFile(path.join(dir.path, rel))
}

/** What a file is stored as: bytes in memory, or (large and stored as it is) a file streamed from disk. */
export interface StoredBody {
  body: Uint8Array | { path: string }
  size: number
  md5: string
}

/**
 * Files at least this large that are stored as they are get hashed and uploaded as streams, so
 * the uploads in flight hold less than `concurrency` MiB of file bytes between them.
 */
const STREAM_MIN_BYTES = 1024 * 1024

/**
 * The body to store for a file (precompressed when planned). With `check`, the file's bytes are
 * first checked against the manifest's integrity. Memory stays bounded for large files: they are
 * hashed in one streaming pass, then streamed to the store, whose Content-MD5 check catches a
 * file that changed in between.
 */
export async function storedBody(dir: LocalDir, f: LocalFile, check: { key: string } | undefined): Promise<StoredBody> {
  const file = path.join(dir.path, f.path)
  const changed = () =>
    new CdnPublishError(
      Codes.PUBLISH_FAILED,
      `${f.path} in ${dir.path} no longer has the bytes the manifest describes (integrity ${f.integrity}): something changed the output after the build. Rebuild and publish again.`,
      { key: check?.key ?? f.key, file: f.path },
    )
  if (!f.encoding && f.size >= STREAM_MIN_BYTES && !dir.pending?.has(f.path)) {
    const d = await hashFile(file)
    if (check && (d.size !== f.size || d.integrity !== f.integrity)) throw changed()
    return { body: { path: file }, size: d.size, md5: d.md5 }
  }
  const raw = await readLocalFile(dir, f.path)
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

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)
const brotliAsync = promisify(brotliCompress)
const unbrotliAsync = promisify(brotliDecompress)

/** Precompress: gzip at level 9, or brotli at its highest quality. */
export function encode(raw: Buffer, encoding: PrecompressEncoding): Promise<Buffer> {
  if (encoding === 'gzip') return gzipAsync(raw, { level: 9 })
  return brotliAsync(raw, {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
      [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length,
      [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
    },
  })
}

export function decode(stored: Uint8Array, encoding: PrecompressEncoding): Promise<Buffer> {
  return encoding === 'gzip' ? gunzipAsync(stored) : unbrotliAsync(stored)
}
