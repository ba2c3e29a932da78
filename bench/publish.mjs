// Publishing throughput against the local S3 test servers, compared in the same run with
// `aws s3 sync` and with a bare loop of SDK PutObject calls (the practical ceiling of the server).
//
//   npm run build && node bench/publish.mjs [--rounds N] [--servers radosgw,s3rver] [--files N] [--mb N]
//
// A synthetic build (default 2,000 files of 1 KB–2 MB, about 80 MB, with a cdn-manifest.json) is
// published by three whole processes, alternately, each round into fresh buckets:
//   cdn   the plugin's deploy path (dist/deploy/index.js deployDirectory: publish, then prune with the
//         default retention), under the prefix site/, and again
//         at the bare loop's best concurrency (cdn@N)
//   aws   `aws s3 sync` (awscli; `apt-get install awscli` if missing)
//   sdk   PutObject for every file through @aws-sdk/client-s3 at the best concurrency (calibrated)
// then `cdn` and `aws` publish the unchanged build again. Prints medians and the ratios, and
// counts the requests of the unchanged `cdn` publish through a counting loopback proxy.
// Servers are started with test/servers (radosgw needs the Debian ceph packages; see README).
// CDN_BENCH_CPU_PROF=<dir> writes a CPU profile of every child process there; CDN_BENCH_VERBOSE=1
// prints what each cdn child reports (counts and the durations of its phases).
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
/** Every tool publishes under this key prefix (the plugin prunes only under a prefix). */
const PREFIX = 'site/'
const dist = (p) => join(root, 'dist', p)

// ---------------------------------------------------------------------------------------------
// child processes: one publish each, timed by the parent as a whole process

async function child([tool, dir, bucket, endpoint, concurrency]) {
  if (tool === 'cdn') {
    const { resolvePublishOptions } = await import(dist('options/publish.js'))
    const { resolveRetention } = await import(dist('options/retention.js'))
    const { deployDirectory } = await import(dist('deploy/index.js'))
    const c = concurrency ? { concurrency: Number(concurrency) } : {}
    const options = resolvePublishOptions({ bucket, endpoint, forcePathStyle: true, prefix: PREFIX, ...c }, { process: process.env })
    // the whole deploy as the plugin runs it: publish, then prune with the default retention
    const logger = { info() {}, warn() {} }
    const t0 = performance.now()
    const { report, prune } = await deployDirectory({
      dir,
      manifest: 'cdn-manifest.json',
      options,
      retention: resolveRetention(undefined),
      logger,
      report: false,
      pages: { fingerprintPublic: true, hashLength: 8 },
    })
    const phases = { read: report.durations.readMs, upload: report.durations.uploadMs, prune: prune?.durationMs, total: Math.round(performance.now() - t0) }
    process.stdout.write(`${JSON.stringify({ uploaded: report.uploaded.length, skipped: report.skipped.length, phases })}\n`)
  } else if (tool === 'sdk') {
    const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3')
    const { readFile } = await import('node:fs/promises')
    const client = new S3Client({
      endpoint,
      region: process.env.AWS_REGION,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
    // largest first, as the plugin does: the strongest plain loop
    const files = walk(dir)
      .map((f) => ({ f, size: statSync(join(dir, f)).size }))
      .sort((a, b) => b.size - a.size)
      .map((x) => x.f)
    let next = 0
    await Promise.all(
      Array.from({ length: Number(concurrency) }, async () => {
        while (next < files.length) {
          const rel = files[next++]
          const body = await readFile(join(dir, rel))
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: PREFIX + rel, Body: body, ContentLength: body.length, ContentType: 'application/octet-stream' }))
        }
      }),
    )
    process.stdout.write(`${JSON.stringify({ uploaded: files.length })}\n`)
  } else throw new Error(`unknown tool ${tool}`)
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2))
  for (const f of ['deploy/index.js', 'options/publish.js', 'bucket/s3.js', 'build/manifest.js']) {
    try {
      readFileSync(dist(f))
    } catch {
      console.error(`missing dist/${f}: run \`npm run build\` first`)
      process.exit(1)
    }
  }
  const aws = spawnSync('aws', ['--version'], { encoding: 'utf8' })
  if (aws.status !== 0) {
    console.error('`aws` (awscli) not found: apt-get install -y awscli')
    process.exit(1)
  }
  const { runnerImport } = await import('vite')
  const load = async (p) => (await runnerImport(join(root, p), { configFile: false, logLevel: 'silent' })).module
  const { startS3Servers } = await load('test/servers/index.ts')
  const { startCountingProxy } = await load('test/helpers/s3.ts')
  const { createS3Store } = await import(dist('bucket/s3.js'))
  const { S3Client, CreateBucketCommand, DeleteBucketCommand } = await import('@aws-sdk/client-s3')

  const work = mkdtempSync(join(tmpdir(), 'cdn-publish-bench-'))
  const dir = join(work, 'dist')
  const { count, bytes } = await syntheticBuild(dir, args.files, args.mb)
  console.log(`synthetic build: ${count} files, ${(bytes / 1e6).toFixed(1)} MB (+ cdn-manifest.json); ${args.rounds} rounds, alternating; ${(aws.stdout || aws.stderr).trim()}`)

  const results = []
  const servers = await startS3Servers(args.servers)
  try {
    for (const server of servers) {
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: server.accessKeyId,
        AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
        AWS_REGION: server.region,
        AWS_DEFAULT_REGION: server.region,
        AWS_EC2_METADATA_DISABLED: 'true',
        // awscli: plain single PUTs with Content-MD5, as radosgw and older stores need
        AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
        AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
      }
      delete env.AWS_PROFILE
      const admin = new S3Client({
        endpoint: server.endpoint,
        region: server.region,
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      })
      let n = 0
      const freshBucket = async () => {
        const b = `bench-${server.name}-${process.pid}-${n++}`
        await admin.send(new CreateBucketCommand({ Bucket: b }))
        return b
      }
      const dropBucket = async (b) => {
        const store = createS3Store({ bucket: b, endpoint: server.endpoint, region: server.region, forcePathStyle: true })
        const keys = (await withEnv(env, () => store.list(''))).map((o) => o.key)
        const r = await withEnv(env, () => store.deleteMany(keys))
        if (r.errors.length) throw new Error(`cleanup of ${b}: ${r.errors[0].message}`)
        await admin.send(new DeleteBucketCommand({ Bucket: b }))
      }
      const run = (tool, bucket, endpoint = server.endpoint, concurrency = '') => {
        if (tool === 'aws') {
          const args = ['s3', 'sync', dir, `s3://${bucket}/${PREFIX}`, '--endpoint-url', endpoint, '--only-show-errors']
          return timed('aws', args, env)
        }
        const [name, c] = tool === 'cdnBest' ? ['cdn', concurrency] : [tool, tool === 'sdk' ? concurrency : '']
        const prof = process.env.CDN_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CDN_BENCH_CPU_PROF}`] : []
        return timed(process.execPath, [...prof, fileURLToPath(import.meta.url), '--child', name, dir, bucket, endpoint, String(c)], env)
      }

      // calibrate the bare loop: the concurrency at which this server takes the build fastest
      let best = { c: 8, ms: Infinity }
      for (const c of [8, 16, 32, 64]) {
        const b = await freshBucket()
        const ms = await run('sdk', b, server.endpoint, c)
        await dropBucket(b)
        if (ms < best.ms) best = { c, ms }
      }
      console.log(`\n${server.name}: bare SDK loop fastest at concurrency ${best.c} (calibration)`)

      const t = { cdn: [], cdnBest: [], aws: [], sdk: [], cdnAgain: [], awsAgain: [] }
      const tools = ['cdn', 'aws', 'sdk', 'cdnBest']
      for (let round = 0; round < args.rounds; round++) {
        // rotate the order every round
        const order = tools.map((_, i) => tools[(i + round) % tools.length])
        for (const tool of order) {
          const b = await freshBucket()
          t[tool].push(await run(tool, b, server.endpoint, best.c))
          if (tool === 'cdn' || tool === 'aws') t[`${tool}Again`].push(await run(tool, b))
          await dropBucket(b)
        }
        process.stdout.write(
          `  round ${round + 1}: cdn ${s(t.cdn.at(-1))}  cdn@${best.c} ${s(t.cdnBest.at(-1))}  aws ${s(t.aws.at(-1))}  sdk@${best.c} ${s(t.sdk.at(-1))}` +
            `  | unchanged: cdn ${s(t.cdnAgain.at(-1))}  aws ${s(t.awsAgain.at(-1))}\n`,
        )
      }

      // request count of an unchanged publish, through a counting proxy
      const b = await freshBucket()
      await run('cdn', b)
      const proxy = await startCountingProxy(server.endpoint)
      await run('cdn', b, proxy.endpoint)
      const reqs = proxy.requests()
      proxy.reset()
      await run('aws', b, proxy.endpoint)
      const awsReqs = proxy.requests()
      await proxy.close()
      await dropBucket(b)
      admin.destroy()

      const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]))
      const counts = countBy(reqs)
      const r = {
        server: server.name,
        files: count,
        medians: m,
        sdkConcurrency: best.c,
        firstVsSdk: m.cdn / m.sdk,
        firstBestVsSdk: m.cdnBest / m.sdk,
        awsVsFirst: m.aws / m.cdn,
        awsAgainVsAgain: m.awsAgain / m.cdnAgain,
        againRequests: reqs.length,
        againCounts: counts,
        awsAgainRequests: awsReqs.length,
      }
      results.push(r)
      console.log(
        `${server.name} medians: first publish cdn ${s(m.cdn)} (default concurrency 8), cdn ${s(m.cdnBest)} (concurrency ${best.c}), ` +
          `aws s3 sync ${s(m.aws)}, bare SDK loop ${s(m.sdk)} (concurrency ${best.c}); ` +
          `unchanged: cdn ${s(m.cdnAgain)}, aws s3 sync ${s(m.awsAgain)}`,
      )
      console.log(
        `${server.name} ratios: first publish cdn/bare-SDK ${r.firstVsSdk.toFixed(2)}x at the default concurrency, ` +
          `${r.firstBestVsSdk.toFixed(2)}x at the same concurrency (target <= 1.15); aws-sync/cdn ${r.awsVsFirst.toFixed(2)}x faster; ` +
          `unchanged aws-sync/cdn ${r.awsAgainVsAgain.toFixed(2)}x faster (target >= 4); ` +
          `unchanged cdn requests: ${reqs.length} (${fmtCounts(counts)}) = ${((reqs.length / (count + 1)) * 1000).toFixed(2)} per 1,000 objects, PUT ${counts.PUT ?? 0}; ` +
          `unchanged aws s3 sync requests: ${awsReqs.length}`,
      )
    }
  } finally {
    await Promise.allSettled(servers.map((x) => x.stop()))
    rmSync(work, { recursive: true, force: true })
  }
  if (args.json) writeFileSync(args.json, `${JSON.stringify(results, undefined, 2)}\n`)
}

// ---------------------------------------------------------------------------------------------

/**
 * `files` files: most of them small (log-uniform 1 KB–80 KB), 1.5 % large (1–2 MB), scaled to
 * about `mb` MB; random bytes; fingerprinted names, plus a few mutable ones; a real manifest.
 */
async function syntheticBuild(dir, files, mb) {
  const { createManifest, stringifySorted } = await import(dist('build/manifest.js'))
  let seed = 42
  const rand = () => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const large = Math.round(files * 0.015)
  const sizes = Array.from({ length: files }, (_, i) =>
    i < large ? Math.round(1_048_576 + rand() * 1_048_576) : Math.round(1024 * Math.exp(rand() * Math.log(80))),
  )
  const smallTotal = sizes.slice(large).reduce((a, b) => a + b, 0)
  const want = mb * 1e6 - sizes.slice(0, large).reduce((a, b) => a + b, 0)
  const k = Math.max(0.2, want / smallTotal)
  for (let i = large; i < files; i++) sizes[i] = Math.min(2 * 1_048_576, Math.max(1024, Math.round(sizes[i] * k)))

  const exts = ['js', 'css', 'png', 'woff2', 'svg', 'webp']
  const out = []
  for (let i = 0; i < files; i++) {
    const bytes = randomBytes(sizes[i])
    const mutable = i >= files - 10
    const ext = mutable ? 'html' : exts[i % exts.length]
    const name = mutable ? `page-${i}.html` : `assets/d${i % 20}/file-${i}-${createHash('sha256').update(bytes).digest('base64url').slice(0, 8)}.${ext}`
    out.push({ fileName: name, bytes, immutable: !mutable })
  }
  const manifest = createManifest({ files: out, entries: {}, aliases: {}, base: '/' })
  for (const f of out) {
    mkdirSync(dirname(join(dir, f.fileName)), { recursive: true })
    writeFileSync(join(dir, f.fileName), f.bytes)
  }
  writeFileSync(join(dir, 'cdn-manifest.json'), stringifySorted(manifest))
  return { count: files, bytes: out.reduce((n, f) => n + f.bytes.length, 0) }
}

function walk(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
}

function timed(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (err += d))
    p.on('close', (code) => {
      const ms = performance.now() - t0
      if (code !== 0) reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (${code}):\n${err.slice(-2000)}`))
      else {
        if (process.env.CDN_BENCH_VERBOSE && out.trim()) console.log(`    ${out.trim()}`)
        resolve(ms)
      }
    })
  })
}

async function withEnv(env, fn) {
  const saved = { ...process.env }
  Object.assign(process.env, env)
  try {
    return await fn()
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  }
}

function countBy(reqs) {
  const out = {}
  for (const r of reqs) {
    const kind = r.method === 'GET' && r.key === '' ? 'LIST' : r.method
    out[kind] = (out[kind] ?? 0) + 1
  }
  return out
}

const fmtCounts = (c) => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const s = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`)

function parseArgs(argv) {
  const out = { rounds: 5, servers: ['radosgw', 's3rver'], files: 2000, mb: 80, json: undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--rounds') out.rounds = Math.max(1, Number(argv[++i]))
    else if (a === '--servers') out.servers = argv[++i].split(',')
    else if (a === '--files') out.files = Number(argv[++i])
    else if (a === '--mb') out.mb = Number(argv[++i])
    else if (a === '--json') out.json = argv[++i]
    else throw new Error(`unknown argument ${a}`)
  }
  return out
}

if (process.argv[2] === '--child') await child(process.argv.slice(3))
else await main()
