/**
 * Publishers that race: two `cdn-publish publish` processes (and a prune, and a rollback) against
 * one prefix at the same moment, on the real servers. After every race the bucket must hold
 * exactly one release record marked `current`, the one the stable manifest names; every mutable
 * file served must have that release's bytes, every file it names must be there, and no lease
 * may be left behind. Each publisher either succeeded (its release current, or replaced by the
 * other) or failed with PUBLISH_CONFLICT, changing nothing served.
 *
 * The deterministic cases order the two publishers with the counting proxy's gates; the race
 * suite starts them together, on radosgw (which honours conditional writes; s3rver ignores them,
 * and the README states the weaker guarantee there). `CDN_RACE_ROUNDS` sets the number of races
 * (default 10; 50 for the full run).
 */
import { spawn } from 'node:child_process'
import { appendFileSync, cpSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import type { CdnManifest } from '../src/index.js'
import type { ReleaseRecord } from '../src/bucket/record.js'
import type { PublishReport } from '../src/publish/report.js'
import { codes, fixtureCopies, repoRoot, viteBuild } from './helpers/build.js'
import { CLI, cliEnv, runCli, type CliResult } from './helpers/cli.js'
import { md5hex } from './helpers/digest.js'
import { leaseKey, recordKey } from './helpers/keys.js'
import { adminClient, createBucket, credsEnv, listAll, readBytes, startCountingProxy } from './helpers/s3.js'
import type { S3ServerInfo } from './servers/index.js'

const servers = inject('s3servers')
const ROUNDS = Number(process.env.CDN_RACE_ROUNDS || 10)

const fx = fixtureCopies()
afterAll(() => fx.cleanup())

interface Build {
  dir: string
  manifest: CdnManifest
  /** Path → bytes, for every file the manifest names and the manifest itself. */
  bytes: Map<string, Buffer>
}

/** Four builds of the fixture, each with other bytes in its public image (so other releases). */
const builds: Build[] = []
beforeAll(async () => {
  const root = fx.copy()
  for (let i = 0; i < 4; i++) {
    if (i > 0) appendFileSync(path.join(root, 'public/img/logo.png'), `build ${i}`)
    const b = await viteBuild('vite8', root, {})
    expect(codes(b)).toEqual([])
    const dir = fx.temp(`race-build-${i}`)
    cpSync(b.outDir, dir, { recursive: true })
    const manifest = JSON.parse(readFileSync(path.join(dir, 'cdn-manifest.json'), 'utf8')) as CdnManifest
    const bytes = new Map([...Object.keys(manifest.files), 'cdn-manifest.json'].map((p) => [p, readFileSync(path.join(dir, p))]))
    builds.push({ dir, manifest, bytes })
  }
  expect(new Set(builds.map((b) => b.manifest.release)).size).toBe(4)
}, 120_000)

// ---------------------------------------------------------------------------------------------
// helpers

const release = (b: Build) => b.manifest.release

/** A running `cdn-publish` process: `output(re)` resolves once its stderr matches. */
interface Running {
  done: Promise<CliResult>
  output(re: RegExp): Promise<void>
}

function startCli(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiting: { re: RegExp; resolve: () => void }[] = []
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')))
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString('utf8')
    for (const w of waiting.splice(0)) {
      if (w.re.test(stderr)) w.resolve()
      else waiting.push(w)
    }
  })
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return {
    done,
    output: (re) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(stderr)) return resolve()
        waiting.push({ re, resolve })
        void done.then((r) => reject(new Error(`the process ended (exit ${r.code}) before its output matched ${re}:\n${r.stderr}`)))
      }),
  }
}

async function readRecords(s: ReturnType<typeof adminClient>, bucket: string, prefix: string): Promise<Map<string, ReleaseRecord>> {
  const records = new Map<string, ReleaseRecord>()
  for (const o of await listAll(s, bucket, `${prefix}.cdn-publish/releases/`)) {
    const r = JSON.parse((await readBytes(s, bucket, o.key))!.toString('utf8')) as ReleaseRecord
    records.set(r.release, r)
  }
  return records
}

/**
 * The invariant after any race: one current record, the one the manifest names; its mutable
 * files served with its bytes; every file it names present; no lease left. Returns the release.
 */
async function checkInvariant(s: ReturnType<typeof adminClient>, bucket: string, prefix: string): Promise<string> {
  const records = await readRecords(s, bucket, prefix)
  const current = [...records.values()].filter((r) => r.state === 'current').map((r) => r.release)
  expect(current, `records marked current under ${prefix}`).toHaveLength(1)
  const served = JSON.parse((await readBytes(s, bucket, `${prefix}cdn-manifest.json`))!.toString('utf8')) as CdnManifest
  expect(served.release, 'the stable manifest names the current record').toBe(current[0])
  const build = builds.find((b) => release(b) === served.release)!
  expect((await readBytes(s, bucket, `${prefix}cdn-manifest.json`))!.equals(build.bytes.get('cdn-manifest.json')!)).toBe(true)
  const listed = new Map((await listAll(s, bucket, prefix)).map((o) => [o.key, o]))
  for (const [p, f] of Object.entries(build.manifest.files)) {
    const o = listed.get(prefix + p)
    expect(o, `${prefix + p} of the current release`).toBeDefined()
    if (!f.immutable) expect(o!.etag.replace(/"/g, ''), `${prefix + p} holds the current release's bytes`).toBe(md5hex(build.bytes.get(p)!))
  }
  expect(listed.has(leaseKey(prefix)), 'no lease left behind').toBe(false)
  return served.release
}

const reportOf = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as PublishReport

function cliFor(server: S3ServerInfo) {
  const env = cliEnv(credsEnv(server))
  const target = (bucket: string, prefix: string, endpoint = server.endpoint) => ['--bucket', bucket, '--prefix', prefix, '--endpoint', endpoint, '--force-path-style']
  let n = 0
  const publishArgs = (b: Build, bucket: string, prefix: string, endpoint?: string) => {
    const report = path.join(fx.temp(`race-report-${n++}`), 'report.json')
    return { args: ['publish', b.dir, ...target(bucket, prefix, endpoint), '--no-prune', '--report', report], report }
  }
  return { env, target, publishArgs }
}

// ---------------------------------------------------------------------------------------------
// ordered by the proxy: what each side sees is fixed

describe.each(servers.map((s) => [s.name, s] as const))('publishers that race on %s', (_name, server) => {
  const admin = adminClient(server)
  const { env, target, publishArgs } = cliFor(server)
  afterAll(() => admin.destroy())

  test('a publish that finds the switch taken waits, then plans again and becomes the release after the winner', async () => {
    const [base, a, b] = builds
    const bucket = await createBucket(admin, 'race-wait')
    const prefix = 'site/'
    const first = await runCli(publishArgs(base, bucket, prefix).args, env)
    expect(first.code, first.stderr).toBe(0)

    // B takes the lease, then is held at its stable manifest PUT
    const proxy = await startCountingProxy(server.endpoint)
    try {
      const gate = proxy.hold((r) => r.method === 'PUT' && r.key === `${prefix}cdn-manifest.json`)
      const pb = publishArgs(b, bucket, prefix, proxy.endpoint)
      const runB = startCli(pb.args, env)
      await gate.arrived
      // A uploads everything, then waits for B's lease
      const pa = publishArgs(a, bucket, prefix)
      const runA = startCli(pa.args, env)
      await runA.output(new RegExp(`waiting for the publish of release ${release(b)} to finish switching`))
      gate.release()
      const [rb, ra] = await Promise.all([runB.done, runA.done])
      expect(rb.code, rb.stderr).toBe(0)
      expect(ra.code, ra.stderr).toBe(0)
      expect(ra.stderr).toContain(`release ${release(b)} became current in `)
      expect(ra.stderr).toContain(`while release ${release(a)} was uploading: planning again, as the release after it`)

      expect(await checkInvariant(admin, bucket, prefix)).toBe(release(a))
      const records = await readRecords(admin, bucket, prefix)
      expect([...records.values()].map((r) => [r.release, r.state, r.previous]).sort()).toEqual(
        [
          [release(base), 'replaced', undefined],
          [release(b), 'replaced', release(base)],
          [release(a), 'current', release(b)],
        ].sort(),
      )
      expect(reportOf(pa.report).concurrent).toEqual({ waitedMs: expect.any(Number), waitedFor: [release(b)], replanned: 1 })
      expect(reportOf(pb.report).concurrent).toBeUndefined()
    } finally {
      await proxy.close()
    }
  })

  test('a rollback waits for a publish that holds the switch; the invariant holds after both', async () => {
    const [base, a, b] = builds
    const bucket = await createBucket(admin, 'race-rollback')
    const prefix = 'site/'
    for (const x of [base, a]) {
      const r = await runCli(publishArgs(x, bucket, prefix).args, env)
      expect(r.code, r.stderr).toBe(0)
    }
    const proxy = await startCountingProxy(server.endpoint)
    try {
      const gate = proxy.hold((r) => r.method === 'PUT' && r.key === `${prefix}cdn-manifest.json`)
      const runB = startCli(publishArgs(b, bucket, prefix, proxy.endpoint).args, env)
      await gate.arrived
      const rollback = startCli(['rollback', release(base), ...target(bucket, prefix)], env)
      await rollback.output(new RegExp(`waiting for the publish of release ${release(b)}`))
      gate.release()
      const [rb, rr] = await Promise.all([runB.done, rollback.done])
      expect(rb.code, rb.stderr).toBe(0)
      // the rollback read the bucket while A was current; B switched meanwhile: it refuses
      expect(rr.code, rr.stderr).toBe(1)
      expect(rr.stderr).toContain('PUBLISH_CONFLICT')
      expect(rr.stderr).toContain(`release ${release(b)} became current while it read the bucket. Nothing was written`)
      expect(await checkInvariant(admin, bucket, prefix)).toBe(release(b))
    } finally {
      await proxy.close()
    }
  })

  test('a publish that listed while the winner was between its manifest and its records marks the winner replaced', async () => {
    const [base, p, q] = builds
    const bucket = await createBucket(admin, 'race-records')
    const prefix = 'site/'
    const first = await runCli(publishArgs(base, bucket, prefix).args, env)
    expect(first.code, first.stderr).toBe(0)
    const proxy = await startCountingProxy(server.endpoint)
    try {
      // Q's record PUTs: pending, then (after base marked replaced) current: held there
      let recordPuts = 0
      const gate = proxy.hold((r) => r.method === 'PUT' && r.key === recordKey(prefix, release(q)) && ++recordPuts === 2)
      const runQ = startCli(publishArgs(q, bucket, prefix, proxy.endpoint).args, env)
      await gate.arrived
      // P lists now: the manifest names Q, whose record still says pending
      const runP = startCli(publishArgs(p, bucket, prefix).args, env)
      await runP.output(new RegExp(`waiting for the publish of release ${release(q)} to finish switching`))
      gate.release()
      const [rq, rp] = await Promise.all([runQ.done, runP.done])
      expect(rq.code, rq.stderr).toBe(0)
      expect(rp.code, rp.stderr).toBe(0)
      expect(await checkInvariant(admin, bucket, prefix)).toBe(release(p))
      const records = await readRecords(admin, bucket, prefix)
      expect(records.get(release(q))).toMatchObject({ state: 'replaced', previous: release(base) })
      expect(records.get(release(p))).toMatchObject({ state: 'current', previous: release(q) })
    } finally {
      await proxy.close()
    }
  })

  // s3rver ignores If-Match: only a store that honours it can refuse the manifest write
  if (server.name === 'radosgw') test(
    'a stable manifest switched by a writer that takes no lease: PUBLISH_CONFLICT, the mutable files put back, and the rerun completes',
    async () => {
      const [base, a, , c] = builds
      const bucket = await createBucket(admin, 'race-foreign')
      const prefix = 'site/'
      for (const x of [base, c]) {
        const r = await runCli(publishArgs(x, bucket, prefix).args, env)
        expect(r.code, r.stderr).toBe(0)
      }
      const proxy = await startCountingProxy(server.endpoint)
      try {
        const gate = proxy.hold((r) => r.method === 'PUT' && r.key === `${prefix}cdn-manifest.json`)
        const pa = publishArgs(a, bucket, prefix, proxy.endpoint)
        const runA = startCli(pa.args, env)
        await gate.arrived
        // another tool switches the stable manifest back to the base release meanwhile (other
        // bytes than the plugin wrote; its mutable files are left as they are)
        const compact = Buffer.from(JSON.stringify(base.manifest))
        await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}cdn-manifest.json`, Body: compact, ContentType: 'application/json' }))
        gate.release()
        const ra = await runA.done
        expect(ra.code, ra.stderr).toBe(1)
        expect(ra.stderr).toContain('PUBLISH_CONFLICT')
        expect(ra.stderr).toContain(`release ${release(a)} could not become current in s3://${bucket}/${prefix}: the stable manifest was switched to release ${release(base)}`)
        expect(ra.stderr).toContain(`Run the same build again to complete release ${release(a)}`)
        // the mutable files A had written hold the bytes of the release the manifest names
        // (base, from its snapshots), not those of the release A replaced (c)
        const listed = new Map((await listAll(admin, bucket, prefix)).map((o) => [o.key, o]))
        const rewritten = Object.keys(a.manifest.files).filter((p) => !a.manifest.files[p].immutable && !a.bytes.get(p)!.equals(c.bytes.get(p) ?? Buffer.alloc(0)))
        expect(rewritten.length).toBeGreaterThan(0)
        for (const p of rewritten) expect(listed.get(prefix + p)?.etag.replace(/"/g, ''), p).toBe(md5hex(base.bytes.get(p)!))
        const records = await readRecords(admin, bucket, prefix)
        expect(records.get(release(a))?.state).toBe('pending')
        expect(records.get(release(c))?.state).toBe('current')
        expect(listed.has(leaseKey(prefix))).toBe(false)
      } finally {
        await proxy.close()
      }
      // the other tool's change undone (c's manifest and mutable files, as its records say),
      // the rerun completes A
      for (const [p, f] of Object.entries(c.manifest.files)) {
        if (!f.immutable) await admin.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + p, Body: c.bytes.get(p)! }))
      }
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}cdn-manifest.json`, Body: c.bytes.get('cdn-manifest.json')!, ContentType: 'application/json' }))
      const rerun = await runCli(publishArgs(a, bucket, prefix).args, env)
      expect(rerun.code, rerun.stderr).toBe(0)
      expect(await checkInvariant(admin, bucket, prefix)).toBe(release(a))
    },
  )
})

// ---------------------------------------------------------------------------------------------
// the race suite: started together, nothing ordered

describe.each(servers.filter((s) => s.name === 'radosgw').map((s) => [s.name, s] as const))('%s: races of two publishers', (_name, server) => {
  const admin = adminClient(server)
  const { env, target, publishArgs } = cliFor(server)
  afterAll(() => admin.destroy())
  let bucket: string
  beforeAll(async () => {
    bucket = await createBucket(admin, 'races')
  })
  /** Races in which one publisher waited for the other's lease or planned again. */
  let contended = 0

  async function race(i: number, withPrune: boolean) {
    const [base, a, b] = builds
    const prefix = `race-${withPrune ? 'prune-' : ''}${i}/`
    const first = await runCli(publishArgs(base, bucket, prefix).args, env)
    expect(first.code, first.stderr).toBe(0)
    const [x, y] = i % 2 ? [a, b] : [b, a]
    const px = publishArgs(x, bucket, prefix)
    const py = publishArgs(y, bucket, prefix)
    const runs = [startCli(px.args, env).done, startCli(py.args, env).done]
    if (withPrune) runs.push(startCli(['prune', '--releases', '1', '--min-age', '0', '--grace', '0', ...target(bucket, prefix)], env).done)
    const [rx, ry, rp] = await Promise.all(runs)
    if (rp) expect(rp.code, rp.stderr).toBe(0)
    // both complete: the one that switches second plans again and becomes the release after
    expect(rx.code, rx.stderr).toBe(0)
    expect(ry.code, ry.stderr).toBe(0)
    const current = await checkInvariant(admin, bucket, prefix)
    expect([release(a), release(b)]).toContain(current)
    // the chain: base replaced by the first, the first by the second (the current one)
    const records = await readRecords(admin, bucket, prefix)
    const other = current === release(a) ? release(b) : release(a)
    expect(records.get(current)).toMatchObject({ state: 'current', previous: other })
    if (records.has(other)) expect(records.get(other)).toMatchObject({ state: 'replaced', previous: release(base) })
    else expect(withPrune, `${other}'s record is gone only when pruned`).toBe(true)
    if (records.has(release(base))) expect(records.get(release(base))?.state).toBe('replaced')
    if ([px, py].some((p) => reportOf(p.report).concurrent)) contended++
  }

  test(`${ROUNDS} races of two publishers: one current release, consistent, after each`, async () => {
    for (let i = 0; i < ROUNDS; i++) await race(i, false)
    // the publishers did meet: at least one race made one of them wait or plan again
    expect(contended).toBeGreaterThan(0)
  }, 60_000 + ROUNDS * 20_000)

  test('three races of two publishers and a prune', async () => {
    for (let i = 0; i < 3; i++) await race(i, true)
  }, 120_000)
})
