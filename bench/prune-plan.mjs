// Cost of planPrune on a large bucket: 100,000 listed objects and 500 releases naming 200–2,000
// keys each (neighbouring releases share most of them), against a baseline measured in the same
// run: building the Set of listed keys and the Map key → releases, the work no plan can avoid.
// Build first: npm run build (or npx tsc -p tsconfig.build.json)
// Usage: node bench/prune-plan.mjs [rounds]
import { existsSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const modulePath = join(root, 'dist/retention/policy.js')
if (!existsSync(modulePath)) {
  console.error(`missing ${relative(root, modulePath)}: run \`npm run build\` first`)
  process.exit(1)
}
const { planPrune } = await import(modulePath)

const OBJECTS = 100_000
const RELEASES = 500
const ORPHANS = 1_000
const TARGET_CPU_S = 1
const TARGET_RSS_MB = 200
const rounds = Math.max(1, Number(process.argv[2]) || 5)

const H = 3_600_000
const T0 = Date.UTC(2025, 0, 1)
const prefix = 'app/'

// A small deterministic generator (mulberry32), so every run plans the same bucket.
let seed = 0x5eed
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const hex = () => Math.floor(random() * 0xffffffff).toString(16).padStart(8, '0')

const recordKey = (id) => `${prefix}.cdn-publish/releases/${id}.json`
const manifestKey = `${prefix}cdn-manifest.json`
const poolSize = OBJECTS - RELEASES - ORPHANS - 2 // minus records, orphans, manifest, index.html
const pool = Array.from({ length: poolSize }, (_, i) => `${prefix}assets/chunk-${i}-${hex()}.js`)

// Release i names a window of the pool that slides with i: neighbours share most files.
const records = []
const now = T0 + RELEASES * H + 10 * 60_000
for (let i = 0; i < RELEASES; i++) {
  const n = 200 + Math.floor(random() * 1801)
  const start = Math.floor((i * (poolSize - 2000)) / (RELEASES - 1))
  const keys = [`${prefix}index.html`]
  for (let k = start; k < start + n; k++) keys.push(pool[k])
  const id = `r${String(i).padStart(3, '0')}`
  const last = i === RELEASES - 1
  records.push({
    release: id,
    recordKey: recordKey(id),
    state: last ? 'current' : 'replaced',
    createdAt: T0 + i * H - 60_000,
    publishedAt: T0 + i * H,
    ...(last ? {} : { replacedAt: T0 + (i + 1) * H }),
    keys,
  })
}
const listing = [
  ...pool.map((key) => ({ key, size: 1000 + Math.floor(random() * 100_000), lastModified: T0 })),
  ...records.map((r) => ({ key: r.recordKey, size: 2000, lastModified: r.publishedAt })),
  { key: `${prefix}index.html`, size: 3000, lastModified: now - H },
  { key: manifestKey, size: 500, lastModified: now - H },
  ...Array.from({ length: ORPHANS }, (_, i) => ({ key: `${prefix}legacy/old-${i}.js`, size: 100, lastModified: T0 - 1000 * H })),
]
const references = records.reduce((s, r) => s + r.keys.length, 0)
const input = {
  prefix,
  now,
  current: records[RELEASES - 1].release,
  records,
  listing,
  protectedKeys: [manifestKey],
  policy: { releases: 3, minAge: H, grace: 48 * H, orphans: 'delete' },
}

const mb = (kb) => kb / 1024
const rssBeforeMb = mb(process.resourceUsage().maxRSS)

const cpu = (fn) => {
  const start = process.cpuUsage()
  const result = fn()
  const used = process.cpuUsage(start)
  return { seconds: (used.user + used.system) / 1e6, result }
}

let sink = 0
function baseline() {
  const listed = new Set()
  for (const o of listing) listed.add(o.key)
  const byKey = new Map()
  for (const r of records) {
    for (const k of r.keys) {
      const list = byKey.get(k)
      if (list) list.push(r.release)
      else byKey.set(k, [r.release])
    }
  }
  sink ^= listed.size ^ byKey.size
}

// The first plan alone, as a CLI run would do it: CPU time and peak RSS.
const first = cpu(() => planPrune(input))
const plan = first.result
const rssPeakMb = mb(process.resourceUsage().maxRSS)
// Then alternating rounds for the ratio (their garbage may raise the peak further; not the target).
const planTimes = [first.seconds]
const baseTimes = [cpu(baseline).seconds]
for (let round = 1; round < rounds; round++) {
  planTimes.push(cpu(() => planPrune(input)).seconds)
  baseTimes.push(cpu(baseline).seconds)
}
const rssAfterRoundsMb = mb(process.resourceUsage().maxRSS)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const kept = plan.releases.filter((r) => r.keep).length
const verdict = (ok) => (ok ? 'PASS' : 'FAIL')
console.log(`bucket: ${listing.length} objects, ${RELEASES} releases, ${references} key references (${(references / RELEASES).toFixed(0)} per release)`)
console.log(`plan:   ${kept} releases kept, ${plan.deletions.length} deletions, ${(plan.bytesFreed / 1e6).toFixed(1)} MB freed${plan.refused ? `, REFUSED: ${plan.refused}` : ''}`)
console.log(`planPrune CPU: first ${planTimes[0].toFixed(3)} s, median of ${rounds} ${median(planTimes).toFixed(3)} s  (target < ${TARGET_CPU_S} s: ${verdict(planTimes[0] < TARGET_CPU_S)})`)
console.log(`baseline CPU (Set of listed keys + Map key → releases): median ${median(baseTimes).toFixed(3)} s`)
console.log(`ratio planPrune / baseline: ${(median(planTimes) / median(baseTimes)).toFixed(2)}`)
console.log(
  `peak RSS after the first plan: ${rssPeakMb.toFixed(0)} MB for the whole process, input included (${rssBeforeMb.toFixed(0)} MB before planning)  (target < ${TARGET_RSS_MB} MB: ${verdict(rssPeakMb < TARGET_RSS_MB)})`,
)
console.log(`peak RSS after all ${rounds} rounds (uncollected garbage included): ${rssAfterRoundsMb.toFixed(0)} MB`)
if (sink === 0.5) console.log('')
