/**
 * Shared pieces of the fault tests: the changing fixture app, one publish as the plugin runs it
 * (outcome instead of exception), the served-release invariant read back directly from the
 * server, and a cross-process lock so that fault files that restart a server never overlap with
 * another fault file using that same server.
 */
import { mkdirSync, readFileSync, unlinkSync, watch, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import { expect } from 'vitest'
import type { CdnPublishOptions, RetentionOptions } from '../../src/index.js'
import { Codes } from '../../src/errors.js'
import type { CdnManifest } from '../../src/build/manifest-types.js'
import type { ReleaseRecord } from '../../src/bucket/record.js'
import { captureLogs, codes, fixtureCopies, viteBuild, type Log } from '../helpers/build.js'
import { sri } from '../helpers/digest.js'
import { recordKey as recordKeyOf } from '../helpers/keys.js'
import { readBytes, readRecord as readRecordOf, withEnv, type EnvVars } from '../helpers/s3.js'
import type { S3ServerInfo } from '../servers/index.js'

export const PREFIX = 'site/'
export const MANIFEST = 'cdn-manifest.json'
export const CODES: ReadonlySet<string> = new Set(Object.values(Codes))

/** Key of the record of `release` under PREFIX. */
export const recordKey = (release: string) => recordKeyOf(PREFIX, release)

// ---------------------------------------------------------------------------------------------
// the fixture app

const copies = fixtureCopies()

/** Remove every fixture copy made by `app()` (afterAll). */
export function removeApps(): void {
  copies.cleanup()
}

export interface App {
  root: string
  /** Make build `n`: the public logo's bytes and the lazy module change with `n`. */
  set(n: number | string): void
  /** The manifest bytes of the last build of this app (written before the publish step runs). */
  localManifest(): Buffer
}

export function app(): App {
  const a = copies.app()
  return {
    root: a.root,
    set: (n) => a.set({ logo: `fault build ${n}`, lazy: String(n) }),
    localManifest: () => readFileSync(path.join(a.root, 'dist', MANIFEST)),
  }
}

// ---------------------------------------------------------------------------------------------
// one publish

export interface Attempt {
  ok: boolean
  /** The build's manifest (bytes and parsed), whatever the outcome. */
  manifestBytes: Buffer
  manifest: CdnManifest
  /** Failed: `pluginCode` (or `code`) of the build error. */
  code?: string
  message?: string
  /** Failed: how far the publish got (`step` of the error's data), when the bundler kept it. */
  step?: number
  /** Codes of the build's warnings (PRUNE_FAILED and the like). */
  warnings: string[]
  /** Their messages, in the same order, for a failure's explanation. */
  warningMessages: string[]
  ms: number
}

/** Build and publish `a` with the plugin (Vite 8), credentials from the environment. */
export async function publishApp(
  env: EnvVars,
  a: App,
  bucket: string,
  endpoint: string,
  retention: RetentionOptions | false,
): Promise<Attempt> {
  const logs = captureLogs()
  const options: CdnPublishOptions = { publish: { bucket, prefix: PREFIX, endpoint, forcePathStyle: true }, retention }
  const t0 = performance.now()
  try {
    const result = await withEnv(env, () => viteBuild('vite8', a.root, options, { customLogger: logs.logger }))
    const manifestBytes = result.files.get(MANIFEST)!
    return {
      ok: true,
      manifestBytes,
      manifest: JSON.parse(manifestBytes.toString('utf8')) as CdnManifest,
      warnings: codes(result),
      warningMessages: result.warnings.map((w) => w.message),
      ms: performance.now() - t0,
    }
  } catch (e) {
    const err = ((e as { errors?: Log[] }).errors?.[0] ?? e) as Log & { step?: unknown }
    const manifestBytes = a.localManifest()
    return {
      ok: false,
      manifestBytes,
      manifest: JSON.parse(manifestBytes.toString('utf8')) as CdnManifest,
      code: String(err.pluginCode ?? err.code),
      message: String(err.message),
      ...(typeof err.step === 'number' ? { step: err.step } : {}),
      warnings: [],
      warningMessages: [],
      ms: performance.now() - t0,
    }
  }
}

// ---------------------------------------------------------------------------------------------
// the invariant

export interface Served {
  bytes: Buffer
  manifest: CdnManifest
  /** Paths of the manifest checked. */
  checked: number
  /** Paths with no object under the prefix. */
  missing: string[]
  /** Fingerprinted (immutable) paths whose object does not have the manifest's integrity. */
  corrupt: string[]
  /** Mutable paths (index.html, public files kept under their name) holding other bytes than the manifest's. */
  mismatched: string[]
  /** SRI integrity of what each mismatched path holds. */
  held: Map<string, string>
}

/**
 * What the bucket serves, read with the admin client directly from the server: the stable
 * manifest, and for every path it names whether the object exists with the manifest's integrity.
 * `undefined` when there is no stable manifest.
 */
export async function readServed(admin: S3Client, bucket: string): Promise<Served | undefined> {
  const bytes = await readBytes(admin, bucket, PREFIX + MANIFEST)
  if (bytes === undefined) return undefined
  const manifest = JSON.parse(bytes.toString('utf8')) as CdnManifest
  const served: Served = { bytes, manifest, checked: 0, missing: [], corrupt: [], mismatched: [], held: new Map() }
  await Promise.all(
    Object.entries(manifest.files).map(async ([p, f]) => {
      served.checked++
      const body = await readBytes(admin, bucket, PREFIX + p)
      if (body === undefined) served.missing.push(p)
      else if (sri(body) !== f.integrity) {
        ;(f.immutable ? served.corrupt : served.mismatched).push(p)
        served.held.set(p, sri(body))
      }
    }),
  )
  for (const list of [served.missing, served.corrupt, served.mismatched]) list.sort()
  return served
}

/** The record of `release` under PREFIX, or undefined when there is none. */
export const readRecord = (admin: S3Client, bucket: string, release: string): Promise<ReleaseRecord | undefined> => readRecordOf(admin, bucket, PREFIX, release)

export { readBytes as adminGetBytes }

export interface InvariantStats {
  filesChecked: number
  /** Files of the served release missing, or fingerprinted ones with other bytes. */
  filesLost: number
  /** Mutable files of the served release holding other bytes than its manifest says. */
  filesMismatched: number
  /** One line per violation, for the summary. */
  violations: string[]
  /** Failed switches whose mutable files could not be put back (declared in the error, safe). */
  switchesLeftMixed?: number
}

export const newInvariantStats = (): InvariantStats => ({ filesChecked: 0, filesLost: 0, filesMismatched: 0, violations: [] })

export function describeAttempt(a: Attempt): string {
  return a.ok ? 'succeeded' : `failed ${a.code} at step ${a.step ?? '?'}`
}

/**
 * The check after every publish attempt, as `check(bucket, attempt, before, what)`: every file the
 * stable manifest names is under the prefix with the manifest's integrity (read directly from the
 * server; a violation is a soft failure, counted, so that the run goes on and reports them all).
 * A successful attempt serves exactly the build's manifest with its record `current`; a failed
 * one has a code of `src/errors.ts` and still serves the manifest from `before` (or, failed from
 * step 4 on, its own). Resolves to the stable manifest's bytes now.
 */
export function invariant(admin: S3Client, stats: InvariantStats, seed: number) {
  return async (bucket: string, attempt: Attempt, before: Buffer | undefined, what: string): Promise<Buffer | undefined> => {
    const s = await readServed(admin, bucket)
    const outcome = `${what}, ${describeAttempt(attempt)} (seed ${seed})`
    if (s && !attempt.ok && /could not be put back/.test(attempt.message ?? '') && s.mismatched.length) {
      // The store failed inside the switch and again (for seconds) while the publish put the
      // previous bytes back: the message names the mutable keys that hold this build's bytes.
      // That is safe only if they hold exactly this build's bytes and every file it names is there.
      const own = s.mismatched.filter((p) => s.held.get(p) === attempt.manifest.files[p]?.integrity)
      const named = Object.entries(attempt.manifest.files).filter(([, f]) => f.immutable)
      const present = await Promise.all(named.map(async ([p, f]) => sri((await readBytes(admin, bucket, PREFIX + p)) ?? Buffer.alloc(0)) === f.integrity))
      if (own.length === s.mismatched.length && present.every(Boolean)) {
        for (const p of own) expect(attempt.message, `${what}: the message names ${p}`).toContain(PREFIX + p)
        stats.switchesLeftMixed = (stats.switchesLeftMixed ?? 0) + 1
        s.mismatched = []
      }
    }
    if (s) {
      stats.filesChecked += s.checked
      stats.filesLost += s.missing.length + s.corrupt.length
      stats.filesMismatched += s.mismatched.length
      const bad = [...s.missing.map((p) => `${p} missing`), ...s.corrupt.map((p) => `${p} other bytes`), ...s.mismatched.map((p) => `${p} other bytes`)]
      if (bad.length) {
        const served = s.bytes.equals(attempt.manifestBytes) ? "this build's release" : 'the previous release'
        stats.violations.push(`${outcome}: ${served} ${s.manifest.release} incomplete: ${bad.join(', ')}`)
      }
      expect.soft(bad, `${outcome}: files of the served release ${s.manifest.release} not as its manifest says`).toEqual([])
    }
    if (attempt.ok) {
      expect(s, `${outcome}: a stable manifest after a successful publish`).toBeDefined()
      expect(s!.bytes.equals(attempt.manifestBytes), `${outcome}: the stable manifest is the build's`).toBe(true)
      expect((await readRecord(admin, bucket, attempt.manifest.release))?.state, `${outcome}: record state`).toBe('current')
      return s!.bytes
    }
    expect(CODES.has(attempt.code!), `${outcome}: coded error, got ${attempt.code}: ${attempt.message}`).toBe(true)
    if (s === undefined) expect(before, `${outcome}: the stable manifest disappeared`).toBeUndefined()
    else if (!s.bytes.equals(attempt.manifestBytes)) {
      // not switched: the release served before still is
      expect(before !== undefined && s.bytes.equals(before), `${outcome}: the stable manifest is the previous one`).toBe(true)
    } else {
      // switched, then failed marking the records: only possible from step 4 on
      expect(attempt.step ?? 4, `${outcome}: the stable manifest changed although the publish failed before step 4`).toBeGreaterThanOrEqual(4)
    }
    return s?.bytes
  }
}
// ---------------------------------------------------------------------------------------------
// one fault file at a time per server

const LOCK_DIR = path.join(tmpdir(), 'cdn-publish-fault-locks')

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Hold the server for this fault file: fault files restart servers, and one that restarts must
 * not overlap with another using the same server (vitest runs files in parallel workers). Waits
 * on directory events (no polling); a lock left by a dead process is taken over. Resolves to the
 * release function.
 */
export async function lockServer(server: S3ServerInfo): Promise<() => void> {
  mkdirSync(LOCK_DIR, { recursive: true })
  const file = path.join(LOCK_DIR, `${server.name}-${new URL(server.endpoint).port}.lock`)
  const token = `${process.pid} ${Math.random()}`
  const tryAcquire = (): boolean => {
    try {
      writeFileSync(file, token, { flag: 'wx' })
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    let holder = ''
    try {
      holder = readFileSync(file, 'utf8')
    } catch {
      return tryAcquireOnce()
    }
    const pid = Number(holder.split(' ')[0])
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      try {
        unlinkSync(file)
      } catch {
        /* someone else took it over */
      }
      return tryAcquireOnce()
    }
    return false
  }
  const tryAcquireOnce = (): boolean => {
    try {
      writeFileSync(file, token, { flag: 'wx' })
      return true
    } catch {
      return false
    }
  }
  if (!tryAcquire()) {
    await new Promise<void>((resolve, reject) => {
      const w = watch(LOCK_DIR, () => {
        try {
          if (tryAcquire()) {
            w.close()
            resolve()
          }
        } catch (e) {
          w.close()
          reject(e)
        }
      })
      // the holder may have released it between the first try and the watch
      if (tryAcquire()) {
        w.close()
        resolve()
      }
    })
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8') === token) unlinkSync(file)
    } catch {
      /* already gone */
    }
  }
}
