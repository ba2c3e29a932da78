// Cost of planning a prune of a large bucket: reading the bucket's state (the listing, every release
// record, the stable manifest) and planning on it, as `runPrune` does before its first deletion.
// Default: 1,000,000 listed objects and 2,000 releases naming 200–2,000 files each (neighbouring
// releases share most of them), two snapshots per release, 1,000 orphans. The store is in memory:
// each listing is built as the S3 store builds it (fresh objects in key order, a Date each) and the
// records are real pretty-printed record files read from disk.
//
// Each measurement runs in a fresh Node process, so its CPU time (process.cpuUsage) and peak RSS
// (process.resourceUsage().maxRSS) are its own. Alternating with the planning, the same-run
// baseline does the work no plan can avoid: list the bucket, read and parse every record, build
// the Set of listed keys and the Map file → newest release naming it. With `--prune`, a third
// process runs the whole prune (plan and deletions, records re-listed before each batch).
// Targets: planning (planPrune over what was read) < 5 s CPU, and the whole process < 1 GB peak RSS.
// Reading the state is printed apart: its CPU is mostly JSON.parse of the records (about 580 MB of
// them here), which the baseline does too.
//
// Build first: npm run build
// Usage: node bench/prune-plan.mjs [--objects N] [--releases N] [--rounds N] [--prune] [--dist DIR]
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values: args } = parseArgs({
  options: {
    objects: { type: 'string', default: '1000000' },
    releases: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    prune: { type: 'boolean', default: false },
    // another build of the plugin (an older commit's `dist/`), to compare
    dist: { type: 'string', default: join(root, 'dist') },
    child: { type: 'string' },
  },
})
const dist = (p) => resolve(args.dist, p)
if (!existsSync(dist('retention/prune.js'))) {
  console.error(`missing ${relative(root, dist('retention/prune.js'))}: run \`npm run build\` first`)
  process.exit(1)
}

const OBJECTS = Number(args.objects)
const RELEASES = Number(args.releases)
const ORPHANS = 1_000
const TARGET_CPU_S = 5
const TARGET_RSS_MB = 1024
const SNAPSHOTS_PER_RELEASE = 2 // index.html and the stable manifest
const POOL = OBJECTS - RELEASES * (1 + SNAPSHOTS_PER_RELEASE) - ORPHANS - 2 // minus records, snapshots, orphans, index.html, manifest
if (!(Number.isInteger(RELEASES) && RELEASES >= 2 && Number.isInteger(OBJECTS) && POOL >= 4000)) {
  console.error('--releases must be >= 2 and --objects large enough for 4,000 files besides records, snapshots and orphans')
  process.exit(1)
}

const H = 3_600_000
const T0 = Date.UTC(2025, 0, 1)
const NOW = T0 + RELEASES * H + 10 * 60_000
const prefix = 'app/'
const manifest = 'cdn-manifest.json'
const retention = { releases: 3, minAge: H, grace: 48 * H, orphans: 'delete', allowRootPrefix: false }
const pad = (n, width) => String(n).padStart(width, '0')
const W = String(Math.max(OBJECTS, RELEASES)).length
const releaseId = (i) => `r${pad(i, W)}`
/** A deterministic 32-bit hash of an integer, as 8 hex digits. */
const hex8 = (i, salt = 0) => {
  let t = (i + 1) * 0x9e3779b1 + salt * 0x85ebca6b
  t = Math.imul(t ^ (t >>> 16), 0x21f0aaad)
  t = Math.imul(t ^ (t >>> 15), 0x735a2d97)
  return ((t ^ (t >>> 15)) >>> 0).toString(16).padStart(8, '0')
}
// Zero-padded numbers, so that generation order is S3's byte order.
const poolPath = (i) => `assets/chunk-${pad(i, W)}-${hex8(i)}.js`
const poolSize = (i) => 1000 + (parseInt(hex8(i, 1), 16) % 100_000)
const etagOf = (i, salt) => hex8(i, salt) + hex8(i, salt + 1) + hex8(i, salt + 2) + hex8(i, salt + 3)

/** Release i: a window of the pool that slides with i, 200–2,000 files. */
function window(i) {
  const n = 200 + (parseInt(hex8(i, 2), 16) % 1801)
  const start = Math.floor((i * (POOL - 2000)) / (RELEASES - 1))
  return { start, n }
}
const snapshotPath = (i, s) => `.cdn-publish/snapshots/${hex8(i, 10 + s)}${hex8(i, 20 + s)}`

/** The listing's small parts (records, snapshots, single files, orphans) as [key, size, etag, lastModified]. */
function smallParts() {
  const records = []
  const snapshots = []
  for (let i = 0; i < RELEASES; i++) {
    records.push([`${prefix}.cdn-publish/releases/${releaseId(i)}.json`, 300 * window(i).n, etagOf(i, 3), T0 + i * H + (i === RELEASES - 1 ? 0 : H)])
    for (let s = 0; s < SNAPSHOTS_PER_RELEASE; s++) snapshots.push([prefix + snapshotPath(i, s), 2000, etagOf(i * 10 + s, 4), T0 + i * H])
  }
  snapshots.sort((a, b) => (a[0] < b[0] ? -1 : 1))
  const tail = [
    [`${prefix}${manifest}`, 500, etagOf(1, 5), NOW - H],
    [`${prefix}index.html`, 3000, etagOf(2, 5), NOW - H],
  ]
  const orphans = Array.from({ length: ORPHANS }, (_, i) => [`${prefix}legacy/old-${pad(i, 6)}.js`, 100, etagOf(i, 6), T0 - 1000 * H])
  return { records, snapshots, tail, orphans }
}

function recordJson(i) {
  const { start, n } = window(i)
  const files = {}
  files['index.html'] = { integrity: `sha384-${createHash('sha384').update(`index ${i}`).digest('base64')}`, size: 3000, immutable: false, md5: etagOf(i, 7), headers: hex8(i, 8) + hex8(i, 9) }
  for (let k = start; k < start + n; k++) {
    files[poolPath(k)] = { integrity: `sha384-${createHash('sha384').update(String(k)).digest('base64')}`, size: poolSize(k), immutable: true, md5: etagOf(k, 0), headers: 'a3f1c2d4e5f60718' }
  }
  const last = i === RELEASES - 1
  const record = {
    version: 1,
    release: releaseId(i),
    state: last ? 'current' : 'replaced',
    createdAt: new Date(T0 + i * H - 60_000).toISOString(),
    publishedAt: new Date(T0 + i * H).toISOString(),
    ...(last ? {} : { replacedAt: new Date(T0 + (i + 1) * H).toISOString() }),
    ...(i > 0 ? { previous: releaseId(i - 1) } : {}),
    manifest,
    files,
    snapshots: {
      'index.html': { key: snapshotPath(i, 0), contentType: 'text/html; charset=utf-8', cacheControl: 'no-cache' },
      [manifest]: { key: snapshotPath(i, 1), contentType: 'application/json', cacheControl: 'no-cache' },
    },
  }
  return `${JSON.stringify(record, undefined, 2)}\n` // as the plugin writes records
}

const dataDir = join(root, 'bench/.tmp/prune-plan', `${OBJECTS}-${RELEASES}`)
const recordFile = (id) => join(dataDir, `${id}.json`)
const STAMP = 'v1'

/** Writes the record files once per bucket shape. */
function ensureRecords() {
  const stampFile = join(dataDir, 'stamp')
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === STAMP) return
  rmSync(dataDir, { recursive: true, force: true })
  mkdirSync(dataDir, { recursive: true })
  process.stdout.write(`writing ${RELEASES} release records to ${relative(root, dataDir)} ...`)
  for (let i = 0; i < RELEASES; i++) writeFileSync(recordFile(releaseId(i)), recordJson(i))
  writeFileSync(stampFile, STAMP)
  console.log(' done')
}

/**
 * An in-memory ObjectStore: `list` builds the listing as the S3 store does (fresh objects in byte
 * order, a Date each), `getBytes` reads the record files, `deleteMany` forgets keys.
 */
function memoryStore() {
  const { records, snapshots, tail, orphans } = smallParts()
  const gone = new Set()
  const object = ([key, size, etag, time]) => ({ key, size, etag, lastModified: new Date(time) })
  // The pool's keys, sizes and ETags are made once, outside the measurement: what is measured is
  // the plugin's work on the listing, not this generator's.
  // Through a Buffer: flat strings, as a response parser makes them, not trees of concatenations.
  const flat = (s) => Buffer.from(s, 'latin1').toString('latin1')
  const keys = Array.from({ length: POOL }, (_, i) => flat(prefix + poolPath(i)))
  const sizes = Int32Array.from({ length: POOL }, (_, i) => poolSize(i))
  const etags = Array.from({ length: POOL }, (_, i) => flat(etagOf(i, 0)))
  const parts = [
    { under: `${prefix}.cdn-publish/releases/`, *objects() { for (const o of records) yield object(o) } },
    { under: `${prefix}.cdn-publish/snapshots/`, *objects() { for (const o of snapshots) yield object(o) } },
    {
      under: `${prefix}assets/`,
      *objects() {
        for (let i = 0; i < POOL; i++) yield { key: keys[i], size: sizes[i], etag: etags[i], lastModified: new Date(T0 + (i % 1000)) }
      },
    },
    { under: prefix, *objects() { for (const o of tail) yield object(o) } },
    { under: `${prefix}legacy/`, *objects() { for (const o of orphans) yield object(o) } },
  ]
  const recordsDir = `${prefix}.cdn-publish/releases/`
  return {
    async list(p) {
      const out = []
      for (const part of parts) {
        if (!(part.under.startsWith(p) || p.startsWith(part.under))) continue
        for (const o of part.objects()) if (o.key.startsWith(p) && !gone.has(o.key)) out.push(o)
      }
      return out
    },
    async getBytes(key) {
      if (gone.has(key)) return undefined
      if (key === prefix + manifest) return Buffer.from(JSON.stringify({ version: 1, release: releaseId(RELEASES - 1) }))
      if (key.startsWith(recordsDir)) {
        try {
          return await readFile(recordFile(key.slice(recordsDir.length, -'.json'.length)))
        } catch {
          return undefined
        }
      }
      return undefined
    },
    async getJson(key) {
      const b = await this.getBytes(key)
      return b && JSON.parse(Buffer.from(b).toString('utf8'))
    },
    async head() {
      return undefined
    },
    async put() {
      throw new Error('read-only')
    },
    async deleteMany(keys) {
      for (const k of keys) gone.add(k)
      return { deleted: [...keys], errors: [] }
    },
    describe: () => 'memory://bench',
  }
}

const mb = (kb) => kb / 1024
const cpuSeconds = (u) => (u.user + u.system) / 1e6

async function child(mode) {
  const store = memoryStore()
  const { readBucketState } = await import(dist('bucket/state.js'))
  const { policyInput, recordViews, runPrune } = await import(dist('retention/prune.js'))
  const { planPrune } = await import(dist('retention/policy.js'))
  const rssBefore = mb(process.resourceUsage().maxRSS)
  const start = process.cpuUsage()
  let summary
  if (mode === 'plan') {
    // as runPrune reads and plans (builds before recordViews read whole records)
    const state = recordViews ? await readBucketState(store, prefix, manifest, 8, undefined, recordViews(prefix)) : await readBucketState(store, prefix, manifest, 8)
    const read = process.cpuUsage(start)
    const plan = planPrune(policyInput(state, retention, NOW))
    summary = {
      readCpu: cpuSeconds(read),
      planCpu: cpuSeconds(process.cpuUsage(start)) - cpuSeconds(read),
      objects: state.listing.length,
      releases: state.records.size,
      kept: plan.releases.filter((r) => r.keep).length,
      deletions: plan.deletions.length,
      bytesFreed: plan.bytesFreed,
      refused: plan.refused,
    }
  } else if (mode === 'prune') {
    const report = await runPrune({ store, prefix, manifest, retention, now: () => new Date(NOW) })
    summary = { deletions: report.deleted.length, plans: report.plans, failed: report.failed.length, refused: report.refused }
  } else {
    const listing = await store.list(prefix)
    const listed = new Set()
    for (const o of listing) listed.add(o.key)
    const recordsDir = `${prefix}.cdn-publish/releases/`
    const recordObjects = listing.filter((o) => o.key.startsWith(recordsDir))
    /** File (relative to the prefix) → index of the newest release naming it. */
    const newest = new Map()
    let next = 0
    const worker = async () => {
      while (next < recordObjects.length) {
        const i = next++
        const record = JSON.parse((await store.getBytes(recordObjects[i].key)).toString('utf8'))
        for (const p of Object.keys(record.files)) if ((newest.get(p) ?? -1) < i) newest.set(p, i)
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    summary = { objects: listed.size, files: newest.size }
  }
  const cpu = cpuSeconds(process.cpuUsage(start))
  process.stdout.write(JSON.stringify({ mode, cpu, rssMb: mb(process.resourceUsage().maxRSS), rssBeforeMb: rssBefore, summary }))
}

if (args.child) {
  await child(args.child)
} else {
  ensureRecords()
  const rounds = Math.max(1, Number(args.rounds) || 3)
  const modes = ['plan', 'baseline', ...(args.prune ? ['prune'] : [])]
  const run = (mode) =>
    JSON.parse(
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, '--objects', String(OBJECTS), '--releases', String(RELEASES), '--dist', args.dist], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      }),
    )
  const results = Object.fromEntries(modes.map((m) => [m, []]))
  // Round 0 warms the file cache and is not counted.
  for (let round = 0; round <= rounds; round++) {
    const line = []
    for (const mode of modes) {
      const r = run(mode)
      if (round > 0) results[mode].push(r)
      line.push(`${mode} ${r.cpu.toFixed(2)} s CPU, ${r.rssMb.toFixed(0)} MB peak RSS`)
    }
    console.log(`${round === 0 ? 'warm-up' : `round ${round}`}: ${line.join('; ')}`)
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const med = (mode, f) => median(results[mode].map(f))
  const verdict = (ok) => (ok ? 'PASS' : 'FAIL')
  const plan = results.plan[0].summary
  const totalCpu = med('plan', (r) => r.cpu)
  const planCpu = med('plan', (r) => r.summary.planCpu)
  const readCpu = med('plan', (r) => r.summary.readCpu)
  const planRss = med('plan', (r) => r.rssMb)
  const baseCpu = med('baseline', (r) => r.cpu)
  const baseRss = med('baseline', (r) => r.rssMb)
  console.log(`bucket: ${plan.objects} objects, ${plan.releases} releases (${RELEASES} records read, ${ORPHANS} orphans)`)
  console.log(`plan:   ${plan.kept} releases kept, ${plan.deletions} deletions, ${(plan.bytesFreed / 1e6).toFixed(1)} MB freed${plan.refused ? `, REFUSED: ${plan.refused}` : ''}`)
  console.log(`planning (planPrune over the listing and the records as read), median of ${rounds}: ${planCpu.toFixed(2)} s CPU (target < ${TARGET_CPU_S} s: ${verdict(planCpu < TARGET_CPU_S)}), ${planRss.toFixed(0)} MB peak RSS of the whole process (target < ${TARGET_RSS_MB} MB: ${verdict(planRss < TARGET_RSS_MB)})`)
  console.log(`reading the state (listing, every record downloaded and parsed, readBucketState): ${readCpu.toFixed(2)} s CPU; both together ${totalCpu.toFixed(2)} s`)
  console.log(`baseline (list, read and parse every record, Set of keys, Map file → newest release): ${baseCpu.toFixed(2)} s CPU, ${baseRss.toFixed(0)} MB peak RSS`)
  console.log(`ratio reading and planning / baseline: CPU ${(totalCpu / baseCpu).toFixed(2)}, peak RSS ${(planRss / baseRss).toFixed(2)}  (before either starts, with the in-memory store's data: ${results.plan[0].rssBeforeMb.toFixed(0)} MB)`)
  if (args.prune) {
    const p = results.prune[0].summary
    console.log(`whole prune (plan and ${p.deletions} deletions, ${p.plans} plan(s)${p.refused ? `, REFUSED: ${p.refused}` : ''}): ${med('prune', (r) => r.cpu).toFixed(2)} s CPU, ${med('prune', (r) => r.rssMb).toFixed(0)} MB peak RSS`)
  }
}
