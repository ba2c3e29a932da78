/**
 * Shared helpers of the bad-input catalogue: fixture copies that are removed afterwards, builds
 * whose outcome (output or error) is captured instead of thrown, bucket snapshots for "nothing
 * was deleted or half-written" checks, and the keys a published release consists of.
 */
import { createHash } from 'node:crypto'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import { expect } from 'vitest'
import type { CdnPublishOptions, ReleaseRecord } from '../../src/index.js'
import { captureLogs, copyFixture, removeDir, viteBuild, type BuildResult, type Log, type Logs, type ViteName } from '../helpers/build.js'
import { listAll, readObject, type Listed } from '../helpers/s3.js'

export const sha384hex = (b: Uint8Array) => createHash('sha384').update(b).digest('hex')
export const md5hex = (b: Uint8Array) => createHash('md5').update(b).digest('hex')
export const STACK_RE = /\n\s+at\s/

/** Fixture copies made by one test file, removed by `cleanup()` (call it in afterAll). */
export function fixtures() {
  const dirs: string[] = []
  return {
    basic(): string {
      const dir = copyFixture('basic')
      dirs.push(dir)
      return dir
    },
    track(dir: string): string {
      dirs.push(dir)
      return dir
    },
    cleanup() {
      dirs.forEach(removeDir)
    },
  }
}

/** The outcome of a real Vite build: its output, or the error the bundler reported for it. */
export type Outcome = { ok: true; result: BuildResult; logs: Logs } | { ok: false; error: Log; logs: Logs }

export async function tryBuild(vite: ViteName, root: string, options: CdnPublishOptions = {}, config: Record<string, unknown> = {}): Promise<Outcome> {
  const logs = captureLogs()
  try {
    const result = await viteBuild(vite, root, options, { customLogger: logs.logger, ...config })
    return { ok: true, result, logs }
  } catch (e) {
    const err = e as Log & { errors?: Log[] }
    return { ok: false, error: err.errors?.[0] ?? err, logs }
  }
}

/** The output of a build that must succeed. */
export function expectOk(o: Outcome): BuildResult {
  if (!o.ok) throw new Error(`the build failed: ${o.error.pluginCode ?? o.error.code}: ${o.error.message}`)
  return o.result
}

/** The error of a build that must fail. */
export function expectFailed(o: Outcome): Log {
  if (o.ok) throw new Error(`the build succeeded; warnings: ${JSON.stringify(o.result.warnings.map((w) => [w.pluginCode ?? w.code, w.message]))}`)
  return o.error
}

/** Warnings a build reported with this plugin code. */
export function coded(r: BuildResult, code: string): Log[] {
  return r.warnings.filter((w) => w.pluginCode === code)
}

/** Every file under `dir` (relative POSIX paths), except below the directories named in `skip`. */
export function filesUnder(dir: string, skip: string[] = []): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue
    const rel = path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/')
    if (skip.some((s) => rel === s || rel.startsWith(`${s}/`))) continue
    out.push(rel)
  }
  return out.sort()
}

/** Everything in the bucket (key, size, ETag, last modified), sorted by key. */
export async function bucketState(admin: S3Client, bucket: string): Promise<Listed[]> {
  return (await listAll(admin, bucket)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

export const recordKeyOf = (prefix: string, release: string) => `${prefix}.cdn-publish/releases/${release}.json`

/** The release record of `release` as stored in the bucket. */
export async function readRecord(admin: S3Client, bucket: string, prefix: string, release: string): Promise<ReleaseRecord> {
  return JSON.parse((await readObject(admin, bucket, recordKeyOf(prefix, release))).bytes.toString('utf8')) as ReleaseRecord
}

/**
 * Every key a published release consists of: its files, the snapshots its record lists, and the
 * record itself (not the stable manifest). Read from the bucket's record, so that which files get
 * snapshots stays the product's business.
 */
export async function releaseKeys(admin: S3Client, bucket: string, prefix: string, r: BuildResult): Promise<string[]> {
  const m = r.manifest!
  const record = await readRecord(admin, bucket, prefix, m.release)
  const snapshots = Object.values(record.snapshots ?? {}).map((s) => prefix + s.key)
  return [...new Set([...Object.keys(m.files).map((p) => prefix + p), ...snapshots, recordKeyOf(prefix, m.release)])].sort()
}

/**
 * The release of build `r` is fully in the bucket with the build's bytes (files and snapshots),
 * its record lists exactly the manifest's files, and the stable manifest names it.
 */
export async function expectCurrent(admin: S3Client, bucket: string, prefix: string, r: BuildResult) {
  const m = r.manifest!
  const listed = new Map((await listAll(admin, bucket, prefix)).map((o) => [o.key, o]))
  for (const p of Object.keys(m.files)) {
    const o = listed.get(prefix + p)
    expect(o, `${prefix + p} in the bucket`).toBeDefined()
    expect(o!.size, `${prefix + p} size`).toBe(m.files[p].size)
    expect(o!.etag.replace(/"/g, ''), `${prefix + p} ETag`).toBe(md5hex(r.files.get(p)!))
  }
  const record = await readRecord(admin, bucket, prefix, m.release)
  expect(record.state).toBe('current')
  expect(Object.keys(record.files).sort()).toEqual(Object.keys(m.files).sort())
  for (const [p, s] of Object.entries(record.snapshots ?? {})) {
    const o = listed.get(prefix + s.key)
    expect(o, `snapshot of ${p}`).toBeDefined()
    const local = r.files.get(p)
    if (local) expect(o!.etag.replace(/"/g, ''), `snapshot of ${p}`).toBe(md5hex(local))
  }
  const stable = await readObject(admin, bucket, `${prefix}cdn-manifest.json`)
  expect(stable.bytes.equals(r.files.get('cdn-manifest.json')!), 'the stable manifest is this build’s').toBe(true)
}

/** `before` is still in the bucket unchanged (same keys, sizes, ETags and modification times). */
export function expectSuperset(after: Listed[], before: Listed[]) {
  const now = new Map(after.map((o) => [o.key, o]))
  for (const o of before) expect(now.get(o.key), `${o.key} still there, unchanged`).toEqual(o)
}
