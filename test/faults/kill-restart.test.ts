/**
 * Publishing while the server's front process (radosgw gateway / s3rver) is killed and restarted:
 * during each of M publishes of a changing build, once the proxy has forwarded the k-th PUT of
 * that publish (k drawn from the seeded PRNG), the front process is restarted (SIGKILL, then
 * started again on the same data; s3rver, which is not crash-safe, once its in-flight writes are
 * done, the proxy resetting every request meanwhile). After each publish, read directly from the
 * server: whatever the stable manifest names is complete, a success serves the build, a failure
 * is coded and leaves the previous release served; a rerun without restarts completes the release.
 *
 * FAULT_KILLS (default 6; nightly 50) publishes per server, FAULT_SEED to replay a run.
 */
import { afterAll, beforeAll, describe, expect, inject, onTestFailed, test } from 'vitest'
import { restartFront } from '../servers/index.js'
import { adminClient, createBucket, credsEnv } from '../helpers/s3.js'
import { fnv1a, mulberry32, runSeed, startFaultProxy, type FaultProxy } from './fault-proxy.js'
import { app, describeAttempt, invariant, lockServer, newInvariantStats, publishApp, removeApps } from './support.js'

const servers = inject('s3servers')
const M = Number(process.env.FAULT_KILLS ?? 6)
const SEED = runSeed()
const RETENTION = { releases: 2, minAge: 0, grace: 0 }

afterAll(removeApps)

describe.each(servers.map((s) => [s.name, s] as const))('publishing while the %s front process restarts', (name, server) => {
  const admin = adminClient(server)
  const env = () => credsEnv(server)
  let proxy: FaultProxy
  let unlock: (() => void) | undefined
  let bucket: string
  const stats = { ...newInvariantStats(), attempted: 0, succeeded: 0, failed: 0, reruns: 0, restarts: 0, restartMs: 0 }
  const check = invariant(admin, stats, SEED)
  /**
   * s3rver writes an object in place, then its .md5, then its metadata.json: killed in the middle
   * of a PUT, it can keep a truncated metadata.json, and every listing of the bucket answers 500
   * from then on (a limit of the fake, not of the plugin). For s3rver the kill waits until the
   * requests it is carrying out are done; meanwhile, and until it is back, the proxy resets every
   * request as a dead server would. radosgw writes atomically and is killed in mid-flight.
   */
  const CRASH_UNSAFE = name === 's3rver'

  beforeAll(async () => {
    unlock = await lockServer(server)
    // no random faults: the restarts are the faults
    proxy = await startFaultProxy(server.endpoint, { seed: SEED })
    // before any restart: radosgw takes ~25 s for its first CreateBucket after a gateway restart
    bucket = await createBucket(admin, 'fault-kill')
  }, 600_000)
  afterAll(async () => {
    await proxy?.close()
    admin.destroy()
    unlock?.()
  })

  test(`${M} publishes, each with a restart of the server after a random PUT: the served release always complete, reruns complete`, async () => {
    onTestFailed(() => console.log(`[faults] kill-restart on ${name} failed; replay with FAULT_SEED=${SEED}`))
    const rng = mulberry32(SEED ^ fnv1a(`kill-restart ${name}`))
    const a = app()
    const outcomes: string[] = []
    let stable: Buffer | undefined
    // PUTs of the last publish: a publish after the first one uploads only what changed
    let expectedPuts = 20
    try {
      for (let i = 1; i <= M; i++) {
        a.set(i)
        const k = 1 + Math.floor(rng() * expectedPuts)
        let puts = 0
        let restart: Promise<number> | undefined
        let down = false
        const off = proxy.onForwarded((r) => {
          if (r.method !== 'PUT' || ++puts !== k || restart) return
          restart = (async () => {
            if (CRASH_UNSAFE) {
              // the server is gone for the client from now on; it is killed once its writes are done
              down = true
              await proxy.idle()
            }
            const t0 = performance.now()
            await restartFront(server)
            return performance.now() - t0
          })().finally(() => {
            down = false
          })
        })
        // while a crash-unsafe server restarts, every request meets a reset, as a dead server's would
        proxy.override((r) => (down ? 'resetBefore' : undefined))
        stats.attempted++
        const attempt = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION).finally(() => {
          off()
          proxy.override(undefined)
        })
        // the check reads the server directly: wait until it is back
        if (restart) {
          stats.restartMs += await restart
          stats.restarts++
        }
        if (attempt.ok) expectedPuts = Math.max(puts, 4)
        const what = `publish ${i}/${M} (restart after PUT ${k} of ${puts}${restart ? '' : ', not reached'})`
        outcomes.push(`#${i} k=${k}/${puts}${restart ? '' : ' (no restart)'} ${describeAttempt(attempt)}`)
        stable = await check(bucket, attempt, stable, what)
        if (attempt.ok) {
          stats.succeeded++
          // a restart during the prune after the publish makes it fail; nothing else warns
          expect(attempt.warnings.filter((c) => c !== 'PRUNE_FAILED'), `${what}: warnings ${attempt.warningMessages.join(' | ')}`).toEqual([])
          continue
        }
        stats.failed++
        stats.reruns++
        const rerun = await publishApp(env(), a, bucket, proxy.endpoint, RETENTION)
        expect(rerun.ok, `${what}, rerun without restarts: ${rerun.code} ${rerun.message}`).toBe(true)
        expect(rerun.warnings, `${what}, rerun without restarts: warnings ${rerun.warningMessages.join(' | ')}`).toEqual([])
        expect(rerun.manifest.release).toBe(attempt.manifest.release)
        stable = await check(bucket, rerun, stable, `${what} (rerun)`)
      }
    } finally {
      console.log(
        `[faults] kill-restart ${name} seed=${SEED}: publishes attempted=${stats.attempted} succeeded=${stats.succeeded} failed=${stats.failed} ` +
          `reruns=${stats.reruns} (all completed) restarts=${stats.restarts} (avg ${(stats.restartMs / Math.max(stats.restarts, 1) / 1000).toFixed(2)} s) ` +
          `upstream connection errors=${proxy.upstreamErrors()} files checked=${stats.filesChecked} lost=${stats.filesLost} mutable mismatched=${stats.filesMismatched} switches left mixed (declared, rerun completed)=${stats.switchesLeftMixed ?? 0}; ${outcomes.join(', ')}` +
          (stats.violations.length ? `; violations: ${stats.violations.join(' | ')}` : ''),
      )
    }
    expect(stats.filesLost, stats.violations.join('\n')).toBe(0)
    expect(stats.filesMismatched, stats.violations.join('\n')).toBe(0)
    expect(stats.succeeded + stats.failed).toBe(M)
    // the restarts really happened during publishes (k never exceeds the PUTs of the first one)
    expect(stats.restarts).toBeGreaterThan(0)
    expect(stable?.equals(a.localManifest())).toBe(true)
  }, 120_000 + M * 30_000)
})
