// Publishing throughput against the local S3 test servers, compared in the same run with
// `aws s3 sync` and with a bare loop of SDK PutObject calls (the practical ceiling of the server).
//
//   npm run build && node bench/publish.mjs [--rounds N] [--servers radosgw,s3rver] [--files N] [--mb N]
//     [--calibrate 8,16,32,64] [--tools cdn,aws,sdk,cdnBest] [--dir DIR] [--json FILE]
//
// A synthetic build (default 2,000 files of 1 KB–2 MB, about 80 MB; 20,000 files make about 400 MB;
// with a cdn-manifest.json) is published by whole processes, alternately, each round into fresh
// buckets:
//   cdn   the real CLI, `node dist/cli/index.js publish <dir>` (publish, then prune with the default
//         retention) under the prefix site/, at its default settings, and again
//         at the bare loop's best concurrency (cdn@N)
//   aws   `aws s3 sync` (awscli; `apt-get install awscli` if missing)
//   sdk   PutObject for every file through @aws-sdk/client-s3 at the best concurrency (calibrated)
// then `cdn` and `aws` publish the unchanged build again. Prints medians, the ratios against the
// targets with PASS/FAIL (first publish at the defaults <= 1.10x the bare loop at its best;
// unchanged re-publish >= 3x faster than `aws s3 sync`, <= 3 requests per 1,000 objects and, at
// 20,000 files, <= 1.5 s; peak RSS of a cdn process < 300 MB), counting the requests of the
// unchanged `cdn` publish through a counting loopback proxy.
// Servers are started with test/servers (radosgw needs the Debian ceph packages; see README).
// Every Node child reports its peak RSS (bench/child-usage.mjs); the parent prints the largest.
// CDN_BENCH_CPU_PROF=<dir> writes a CPU profile of every child process there; CDN_BENCH_VERBOSE=1
// prints what each child reports (the CLI's summary lines, counts, peak RSS).
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
/** Every tool publishes under this key prefix (the plugin prunes only under a prefix). */
const PREFIX = 'site/'
const dist = (p) => join(root, 'dist', p)

// ---------------------------------------------------------------------------------------------
// child processes: one publish each, timed by the parent as a whole process

async function child([tool, dir, bucket, endpoint, concurrency]) {
  if (tool === 'sdk') {
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
  // the SDK's notice about Node versions of 2027 says nothing about this run
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
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

  const work = args.dir ? undefined : mkdtempSync(join(tmpdir(), 'cdn-publish-bench-'))
  const dir = args.dir ?? join(work, 'dist')
  const { count, bytes } = args.dir ? await keptBuild(dir, args.files, args.mb) : await syntheticBuild(dir, args.files, args.mb)
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
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
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
      /** One whole process; resolves to its wall time and (Node children) its peak RSS. */
      const run = (tool, bucket, endpoint = server.endpoint, concurrency = '') => {
        if (tool === 'aws') {
          const args = ['s3', 'sync', dir, `s3://${bucket}/${PREFIX}`, '--endpoint-url', endpoint, '--only-show-errors']
          return timed('aws', args, env)
        }
        const node = [
          `--import=${pathToFileURL(join(root, 'bench/child-usage.mjs')).href}`,
          ...(process.env.CDN_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CDN_BENCH_CPU_PROF}`] : []),
        ]
        if (tool === 'sdk') return timed(process.execPath, [...node, fileURLToPath(import.meta.url), '--child', 'sdk', dir, bucket, endpoint, String(concurrency)], env)
        // the plugin's CLI as a CI step runs it, at its defaults unless told a concurrency
        const cli = [dist('cli/index.js'), 'publish', dir, '--bucket', bucket, '--endpoint', endpoint, '--force-path-style', '--prefix', PREFIX, '--no-report']
        return timed(process.execPath, [...node, ...cli, ...(tool === 'cdnBest' ? ['--concurrency', String(concurrency)] : [])], env)
      }
      const rss = { cdn: 0, sdk: 0 }
      const timeOf = async (tool, ...rest) => {
        const r = await run(tool, ...rest)
        const kind = tool.startsWith('cdn') ? 'cdn' : tool === 'sdk' ? 'sdk' : undefined
        if (kind && r.maxRssKb) rss[kind] = Math.max(rss[kind], r.maxRssKb)
        return r.ms
      }

      // calibrate the bare loop: the concurrency at which this server takes the build fastest
      let best = { c: 8, ms: Infinity }
      for (const c of args.tools.includes('sdk') ? args.calibrate : []) {
        const b = await freshBucket()
        const ms = await timeOf('sdk', b, server.endpoint, c)
        await dropBucket(b)
        if (ms < best.ms) best = { c, ms }
      }
      if (args.tools.includes('sdk')) console.log(`\n${server.name}: bare SDK loop fastest at concurrency ${best.c} (calibration over ${args.calibrate.join(', ')})`)
      else console.log(`\n${server.name}: ${args.tools.join(', ')} only`)

      const t = { cdn: [], cdnBest: [], aws: [], sdk: [], cdnAgain: [], awsAgain: [] }
      const tools = args.tools
      /** The last round's cdn bucket, kept for the request count of an unchanged publish. */
      let kept
      for (let round = 0; round < args.rounds; round++) {
        // rotate the order every round
        const order = tools.map((_, i) => tools[(i + round) % tools.length])
        for (const tool of order) {
          const b = await freshBucket()
          t[tool].push(await timeOf(tool, b, server.endpoint, best.c))
          if (tool === 'cdn' || tool === 'aws') t[`${tool}Again`].push(await timeOf(tool, b))
          if (tool === 'cdn' && round === args.rounds - 1) kept = b
          else await dropBucket(b)
        }
        process.stdout.write(
          `  round ${round + 1}: cdn ${s(t.cdn.at(-1))}  cdn@${best.c} ${s(t.cdnBest.at(-1))}  aws ${s(t.aws.at(-1))}  sdk@${best.c} ${s(t.sdk.at(-1))}` +
            `  | unchanged: cdn ${s(t.cdnAgain.at(-1))}  aws ${s(t.awsAgain.at(-1))}\n`,
        )
      }

      // request count of an unchanged publish, through a counting proxy
      const b = kept ?? (await freshBucket())
      if (!kept) await timeOf('cdn', b)
      const proxy = await startCountingProxy(server.endpoint)
      await timeOf('cdn', b, proxy.endpoint)
      const reqs = proxy.requests()
      proxy.reset()
      await run('aws', b, proxy.endpoint)
      const awsReqs = proxy.requests()
      await proxy.close()
      await dropBucket(b)
      admin.destroy()

      const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]))
      // the ratios that count: per round (the two runs close in time), then the median
      const perRound = (a, b) => median(a.map((x, i) => x / b[i]))
      const counts = countBy(reqs)
      const perThousand = (reqs.length / (count + 1)) * 1000
      const r = {
        server: server.name,
        files: count,
        bytes,
        medians: m,
        sdkConcurrency: best.c,
        firstVsSdk: perRound(t.cdn, t.sdk),
        firstBestVsSdk: perRound(t.cdnBest, t.sdk),
        awsVsFirst: perRound(t.aws, t.cdn),
        awsAgainVsAgain: perRound(t.awsAgain, t.cdnAgain),
        againRequests: reqs.length,
        againPerThousand: perThousand,
        againCounts: counts,
        awsAgainRequests: awsReqs.length,
        peakRssMb: { cdn: rss.cdn / 1024, sdk: rss.sdk / 1024 },
      }
      results.push(r)
      const verdict = (ok) => (ok ? 'PASS' : 'FAIL')
      console.log(
        `${server.name} medians: first publish cdn ${s(m.cdn)} (defaults), cdn ${s(m.cdnBest)} (concurrency ${best.c}), ` +
          `aws s3 sync ${s(m.aws)}, bare SDK loop ${s(m.sdk)} (concurrency ${best.c}); ` +
          `unchanged: cdn ${s(m.cdnAgain)}, aws s3 sync ${s(m.awsAgain)}`,
      )
      if (t.sdk.length && t.cdn.length) console.log(
        `${server.name} first publish (median of the per-round ratios): cdn at its defaults / bare SDK loop at its best (${best.c}) = ${r.firstVsSdk.toFixed(2)}x (target <= 1.10: ${verdict(r.firstVsSdk <= 1.1)}); ` +
          `cdn@${best.c} ${r.firstBestVsSdk.toFixed(2)}x; aws s3 sync / cdn ${r.awsVsFirst.toFixed(2)}x`,
      )
      console.log(
        `${server.name} unchanged re-publish (median of the per-round ratios): aws s3 sync / cdn = ${r.awsAgainVsAgain.toFixed(2)}x faster (target >= 3: ${verdict(r.awsAgainVsAgain >= 3)}); ` +
          `cdn ${s(m.cdnAgain)}${count >= 20000 ? ` (target <= 1.5 s at 20,000 files: ${verdict(m.cdnAgain <= 1500)})` : ''}; ` +
          `requests ${reqs.length} (${fmtCounts(counts)}) = ${perThousand.toFixed(2)} per 1,000 objects (target <= 3: ${verdict(perThousand <= 3)}), PUT ${counts.PUT ?? 0}; ` +
          `aws s3 sync requests ${awsReqs.length}`,
      )
      console.log(
        `${server.name} peak RSS: cdn ${r.peakRssMb.cdn.toFixed(0)} MB (largest of its runs; target < 300 MB: ${verdict(r.peakRssMb.cdn < 300)})${t.sdk.length ? `, bare SDK loop ${r.peakRssMb.sdk.toFixed(0)} MB` : ''}`,
      )
    }
  } finally {
    await Promise.allSettled(servers.map((x) => x.stop()))
    if (work) rmSync(work, { recursive: true, force: true })
  }
  if (args.json) writeFileSync(args.json, `${JSON.stringify(results, undefined, 2)}\n`)
}

// ---------------------------------------------------------------------------------------------

/** Large files (1–2 MB) in a build: 1.5 % of it, at most this many (a site grows by pages, not videos). */
const MAX_LARGE = 30
/** Mean size of the small files when `--mb` is not given: 2,000 files make about 80 MB, 20,000 about 400 MB. */
const SMALL_MEAN = 17_500

/**
 * `files` files: most of them small (log-uniform 1 KB–80 KB, scaled to the mean size), 1.5 % large
 * (1–2 MB, at most MAX_LARGE), about `mb` MB in all when given; random bytes; fingerprinted names,
 * plus a few mutable ones; a real manifest.
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
  const large = Math.min(Math.round(files * 0.015), MAX_LARGE)
  const sizes = Array.from({ length: files }, (_, i) =>
    i < large ? Math.round(1_048_576 + rand() * 1_048_576) : Math.round(1024 * Math.exp(rand() * Math.log(80))),
  )
  const smallTotal = sizes.slice(large).reduce((a, b) => a + b, 0)
  const want = mb === undefined ? SMALL_MEAN * (files - large) : mb * 1e6 - sizes.slice(0, large).reduce((a, b) => a + b, 0)
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

/** The synthetic build in `dir`: the one written there before with the same arguments (noted beside it), or a new one. */
async function keptBuild(dir, files, mb) {
  const note = `${dir}.bench.json`
  const wanted = JSON.stringify({ files, mb: mb ?? null })
  try {
    const kept = JSON.parse(readFileSync(note, 'utf8'))
    if (JSON.stringify({ files: kept.files, mb: kept.mb }) === wanted && statSync(join(dir, 'cdn-manifest.json')).isFile()) return kept.build
  } catch {}
  rmSync(dir, { recursive: true, force: true })
  const build = await syntheticBuild(dir, files, mb)
  writeFileSync(note, JSON.stringify({ ...JSON.parse(wanted), build }))
  return build
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
      const usage = /^CDN_BENCH_USAGE (.*)$/m.exec(err)
      const text = `${out}${err.replace(/^CDN_BENCH_USAGE .*$/m, '')}`.trim()
      if (code !== 0) reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (${code}):\n${text.slice(-2000)}`))
      else {
        const maxRssKb = usage ? JSON.parse(usage[1]).maxRssKb : undefined
        if (process.env.CDN_BENCH_VERBOSE) console.log(`    ${(ms / 1000).toFixed(2)} s${maxRssKb ? `, peak RSS ${(maxRssKb / 1024).toFixed(0)} MB` : ''}: ${text.replace(/\s*\n\s*/g, ' | ')}`)
        resolve({ ms, maxRssKb })
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
  if (!xs.length) return undefined
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const s = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`)

function parseArgs(argv) {
  const out = { rounds: 5, servers: ['radosgw', 's3rver'], files: 2000, mb: undefined, calibrate: [8, 16, 32, 64], tools: ['cdn', 'aws', 'sdk', 'cdnBest'], dir: undefined, json: undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--rounds') out.rounds = Math.max(1, Number(argv[++i]))
    else if (a === '--servers') out.servers = argv[++i].split(',')
    else if (a === '--files') out.files = Number(argv[++i])
    else if (a === '--mb') out.mb = Number(argv[++i])
    else if (a === '--json') out.json = argv[++i]
    else if (a === '--calibrate') out.calibrate = argv[++i].split(',').map(Number)
    else if (a === '--dir') out.dir = resolve(argv[++i])
    else if (a === '--tools') out.tools = argv[++i].split(',')
    else throw new Error(`unknown argument ${a}`)
  }
  return out
}

if (process.argv[2] === '--child') await child(process.argv.slice(3))
else await main()
