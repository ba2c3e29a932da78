/**
 * Shared helpers of the bad-input catalogue: builds whose outcome (output or error) is captured
 * instead of thrown, bucket snapshots for "nothing was deleted or half-written" checks, and the
 * keys a published release consists of.
 */
import type { S3Client } from '@aws-sdk/client-s3'
import { expect } from 'vitest'
import type { CdnPublishOptions, ReleaseRecord } from '../../src/index.js'
import { captureLogs, codes, viteBuild, type BuildResult, type Log, type Logs, type ViteName } from '../helpers/build.js'
import { md5hex } from '../helpers/digest.js'
import { recordKey } from '../helpers/keys.js'
import { listAll, readObject, readRecord, type Listed } from '../helpers/s3.js'

export const STACK_RE = /\n\s+at\s/

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

/** The output of a build that must succeed with exactly these warnings (codes, in order; none unless said). */
export function expectOk(o: Outcome, warnings: string[] = []): BuildResult {
  if (!o.ok) throw new Error(`the build failed: ${o.error.pluginCode ?? o.error.code}: ${o.error.message}`)
  expect(codes(o.result), 'the warnings of the build').toEqual(warnings)
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

/** Everything in the bucket (key, size, ETag, last modified), sorted by key. */
export async function bucketState(admin: S3Client, bucket: string): Promise<Listed[]> {
  return (await listAll(admin, bucket)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

/** The release record of `release` as stored in the bucket; fails the test when there is none. */
export async function storedRecord(admin: S3Client, bucket: string, prefix: string, release: string): Promise<ReleaseRecord> {
  const record = await readRecord(admin, bucket, prefix, release)
  expect(record, `the record of release ${release}`).toBeDefined()
  return record!
}

/**
 * Every key a published release consists of: its files, the snapshots its record lists, and the
 * record itself (not the stable manifest). Read from the bucket's record, so that which files get
 * snapshots stays the product's business.
 */
export async function releaseKeys(admin: S3Client, bucket: string, prefix: string, r: BuildResult): Promise<string[]> {
  const m = r.manifest!
  const record = await storedRecord(admin, bucket, prefix, m.release)
  const snapshots = Object.values(record.snapshots ?? {}).map((s) => prefix + s.key)
  return [...new Set([...Object.keys(m.files).map((p) => prefix + p), ...snapshots, recordKey(prefix, m.release)])].sort()
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
  const record = await storedRecord(admin, bucket, prefix, m.release)
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
