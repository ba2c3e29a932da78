/**
 * Bad input, size: a 200 MB file in `public/`, built by a real Vite build and published to s3rver
 * through the product's deploy core (`deployDirectory`, the same code the plugin's closeBundle and the CLI
 * run) with the real SDK. It must land with the right size and ETag, and publishing it must not
 * hold it in memory: the test process's peak RSS during the publish may grow by less than 150 MB
 * over its RSS just before.
 *
 * Measuring: after the build the garbage it left is collected (V8's gc, exposed at run time),
 * then RSS is taken. During the publish RSS is sampled every 5 ms; afterwards
 * `process.resourceUsage().maxRSS` (the lifetime peak, in KiB) counts too when it rose during the
 * publish (a rise can only have happened then). This file has its own worker, so nothing else
 * runs in the process meanwhile.
 */
import { randomBytes, createHash } from 'node:crypto'
import { createWriteStream, rmSync } from 'node:fs'
import path from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, expect, inject, test } from 'vitest'
import { deployDirectory } from '../../src/deploy/index.js'
import { resolvePublishOptions } from '../../src/options/publish.js'
import { silentLogger } from '../../src/log.js'
import { codes, fixtureCopies, viteBuild } from '../helpers/build.js'
import { adminClient, createBucket, credsEnv, listAll, withEnv } from '../helpers/s3.js'

const servers = inject('s3servers')
// the brief's target is s3rver; any server will do when the run was limited to another one
const server = servers.find((s) => s.name === 's3rver') ?? servers[0]
const fx = fixtureCopies()

const MB = 1024 * 1024
const SIZE = 200 * MB
const LIMIT = 150 * MB
const PREFIX = 'site/'

let root: string
let md5: string

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

beforeAll(async () => {
  root = fx.copy()
  // 200 chunks of one random MiB, written as a stream (never 200 MB in memory here)
  const chunk = randomBytes(MB)
  const hash = createHash('md5')
  const out = createWriteStream(path.join(root, 'public/big.bin'))
  for (let i = 0; i < SIZE / MB; i++) {
    hash.update(chunk)
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', r))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
  md5 = hash.digest('hex')
})

afterAll(() => {
  rmSync(path.join(root, 'public/big.bin'), { force: true })
  rmSync(path.join(root, 'dist'), { recursive: true, force: true })
  fx.cleanup()
})

test(`a 200 MB public file publishes with the right size and ETag, and RSS grows by < 150 MB during the publish (on ${server.name})`, { timeout: 120_000 }, async () => {
  const admin = adminClient(server)
  try {
    const bucket = await createBucket(admin, 'large')
    // the build, without a bucket (publishing skipped); only the manifest is kept from its result
    const manifest = await withEnv({}, async () => {
      const r = await viteBuild('vite8', root, {})
      expect(codes(r), 'the warnings of the build').toEqual([])
      return r.manifest!
    })
    expect(manifest.files['big.bin']).toMatchObject({ size: SIZE, immutable: false })

    await withEnv(credsEnv(server), async () => {
      const options = resolvePublishOptions({ bucket, prefix: PREFIX, endpoint: server.endpoint, forcePathStyle: true }, { process: process.env })
      gc()
      gc()
      const rssBefore = process.memoryUsage.rss()
      const maxBefore = process.resourceUsage().maxRSS * 1024
      let sampled = rssBefore
      const timer = setInterval(() => {
        sampled = Math.max(sampled, process.memoryUsage.rss())
      }, 5)
      let report
      try {
        ;({ report } = await deployDirectory({
          dir: path.join(root, 'dist'),
          manifest: 'cdn-manifest.json',
          options: { ...options, bucket },
          retention: false,
          logger: silentLogger,
          report: false,
          pages: { fingerprintPublic: true, hashLength: 8 },
        }))
      } finally {
        clearInterval(timer)
      }
      sampled = Math.max(sampled, process.memoryUsage.rss())
      const maxAfter = process.resourceUsage().maxRSS * 1024
      const peak = Math.max(sampled, maxAfter > maxBefore ? maxAfter : 0)
      const growth = peak - rssBefore

      expect(report.ok).toBe(true)
      const big = (await listAll(admin, bucket, PREFIX)).find((o) => o.key === `${PREFIX}big.bin`)
      expect(big, 'big.bin in the bucket').toBeDefined()
      expect(big!.size).toBe(SIZE)
      expect(big!.etag.replace(/"/g, '')).toBe(md5)
      expect(
        growth,
        `RSS grew by ${(growth / MB).toFixed(0)} MB during the publish (before ${(rssBefore / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB): ` +
          'the publish holds whole files in memory',
      ).toBeLessThan(LIMIT)
    })
  } finally {
    admin.destroy()
  }
})
