/**
 * Model-based test of the retention planner: random sequences of publishes (some interrupted),
 * prunes (some interrupted part-way through their deletions), clock advances, rollbacks and
 * writes by other tools (inside and outside the prefix) run against an in-memory bucket, and
 * safety invariants are checked after every step.
 *
 * Number of sequences: FC_RUNS (default 200, quick enough for every run; the nightly setting is
 * FC_RUNS=10000). A failure prints the seed and the shrunk sequence of operations.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PENDING_WAIT_MIN, planPrune, type ListedObject, type PrunePlan, type ReleaseRecordView } from '../src/retention/policy.js'
import type { RetentionPolicy } from '../src/options/types.js'
import { sha256hex } from './helpers/digest.js'
import { recordKey } from './helpers/keys.js'

const NUM_RUNS = Number(process.env.FC_RUNS ?? 200)

const S = 1000
const M = 60 * S
const H = 60 * M

/** Number of distinct file paths a build draws from, and content versions per path. */
const POOL = 8
const VERSIONS = 3

interface Params {
  prefix: string
  policy: RetentionPolicy
}

type Op =
  /** A build of the pool paths in `files` (at `versions[i]`); stops after `failAfter` file writes if set. */
  | { kind: 'publish'; files: number[]; versions: number[]; failAfter: number | null }
  /** Plans and applies the deletions, stopping after `interruptAt` of them if set. `leak` lists the whole bucket. */
  | { kind: 'prune'; interruptAt: number | null; leak: boolean }
  | { kind: 'advance'; ms: number }
  /** Points the manifest back at a complete earlier release (the `pick`-th candidate). */
  | { kind: 'rollback'; pick: number }
  /** Another tool writes a key outside the prefix. */
  | { kind: 'writeOutside'; name: number; variant: number }
  /** Another tool writes an object under the prefix that no record names. */
  | { kind: 'writeOrphan'; name: number; meta: boolean }

interface Stored {
  size: number
  lastModified: number
}

const short = (text: string) => sha256hex(text).slice(0, 8)

/** An in-memory bucket with the publisher's order of writes and a pruner applying plans. */
class BucketModel {
  readonly prefix: string
  readonly policy: RetentionPolicy
  readonly manifestKey: string
  now = Date.UTC(2025, 0, 1)
  readonly objects = new Map<string, Stored>()
  /** Record data by record key; a record exists when its key is in `objects`. */
  readonly recordData = new Map<string, ReleaseRecordView>()
  current: string | undefined
  private counter = 0
  /** Expected state of every key outside the prefix. */
  readonly outside = new Map<string, Stored>()
  /** Orphans written under the prefix. */
  readonly orphans = new Set<string>()
  /** Keys (present when planned) of each release the last applied plan kept. */
  lastKept = new Map<string, string[]>()
  plans = 0

  constructor(params: Params) {
    this.prefix = params.prefix
    this.policy = params.policy
    this.manifestKey = `${this.prefix}cdn-manifest.json`
  }

  private put(key: string, size: number) {
    this.objects.set(key, { size, lastModified: this.now })
  }

  records(): ReleaseRecordView[] {
    return [...this.recordData.values()].filter((r) => this.objects.has(r.recordKey))
  }

  record(release: string): ReleaseRecordView | undefined {
    return this.records().find((r) => r.release === release)
  }

  complete(r: ReleaseRecordView): boolean {
    return this.objects.has(r.recordKey) && r.keys.every((k) => this.objects.has(k))
  }

  publish(op: Extract<Op, { kind: 'publish' }>) {
    const release = `r${String(++this.counter).padStart(3, '0')}`
    const files = [...new Set(op.files)].sort((a, b) => a - b)
    const immutable = files.map((i) => {
      const v = op.versions[i] ?? 0
      return { key: `${this.prefix}assets/f${i}-${short(`${i}:${v}`)}.js`, size: 100 + 10 * i + v }
    })
    const html = { key: `${this.prefix}index.html`, size: 50 + this.counter }
    const record: ReleaseRecordView = {
      release,
      recordKey: recordKey(this.prefix, release),
      state: 'pending',
      createdAt: this.now,
      keys: [...immutable.map((f) => f.key), html.key],
    }
    // 1. the record, pending
    this.recordData.set(record.recordKey, record)
    this.put(record.recordKey, 300)
    // 2. fingerprinted files not present yet, 3. the others
    let written = 0
    for (const f of [...immutable, html]) {
      if (op.failAfter !== null && written >= op.failAfter) return // the publish fails: stays pending
      if (f === html || !this.objects.has(f.key)) this.put(f.key, f.size)
      written++
    }
    // 4. the stable manifest, then the records
    this.put(this.manifestKey, 80)
    this.switchTo(record, false)
  }

  private switchTo(target: ReleaseRecordView, rollback: boolean) {
    const previous = this.current === undefined ? undefined : this.record(this.current)
    this.current = target.release
    target.state = 'current'
    if (!rollback) target.publishedAt = this.now
    this.put(target.recordKey, 300)
    if (previous && previous !== target) {
      previous.state = 'replaced'
      previous.replacedAt = this.now
      this.put(previous.recordKey, 300)
    }
  }

  rollbackCandidates(): ReleaseRecordView[] {
    return this.records()
      .filter((r) => r.release !== this.current && r.publishedAt !== undefined && this.complete(r))
      .sort((a, b) => (a.release < b.release ? -1 : 1))
  }

  rollback(pick: number) {
    const candidates = this.rollbackCandidates()
    if (candidates.length === 0) return
    this.put(this.manifestKey, 80)
    this.switchTo(candidates[pick % candidates.length], true)
  }

  writeOutside(name: number, variant: number) {
    if (this.prefix === '') return // nothing is outside an empty prefix
    const bare = this.prefix.slice(0, -1) // 'app/' → 'app'
    const key = [`other/${name}.js`, `${bare}.js`, `${bare}-old/${name}.js`, `${bare}${name}/x.js`][variant % 4]
    this.put(key, 7 + name)
    this.outside.set(key, { ...this.objects.get(key)! })
  }

  writeOrphan(name: number, meta: boolean) {
    const key = meta ? `${this.prefix}.cdn-publish/notes-${name}.txt` : `${this.prefix}legacy/${name}.js`
    this.put(key, 11 + name)
    this.orphans.add(key)
  }

  listing(leak: boolean): ListedObject[] {
    const out: ListedObject[] = []
    for (const [key, o] of this.objects) {
      if (leak || key.startsWith(this.prefix)) out.push({ key, size: o.size, lastModified: o.lastModified })
    }
    return out
  }

  plan(leak: boolean): PrunePlan {
    return planPrune({
      prefix: this.prefix,
      now: this.now,
      current: this.current,
      records: this.records(),
      listing: this.listing(leak),
      protectedKeys: [this.manifestKey],
      policy: this.policy,
    })
  }

  /** Applies `plan` in order, stopping after `limit` deletions. */
  apply(plan: PrunePlan, limit: number | null) {
    this.plans++
    if (plan.refused === undefined) {
      const kept = new Map<string, string[]>()
      for (const d of plan.releases) {
        if (!d.keep) continue
        const r = this.record(d.release)!
        kept.set(d.release, r.keys.filter((k) => this.objects.has(k)).concat(r.recordKey))
      }
      this.lastKept = kept
    }
    const n = limit === null ? plan.deletions.length : Math.min(limit, plan.deletions.length)
    for (let i = 0; i < n; i++) this.objects.delete(plan.deletions[i])
  }
}

/**
 * What the policy requires to be kept, computed independently of the planner from the model's own
 * history (timestamps are exact here: no clock skew, records always up to date). Ties in the
 * count rule are resolved pessimistically: required means kept whatever the tie-break.
 */
function oracle(m: BucketModel) {
  const { policy, now } = m
  const records = m.records()
  const replaced = records.filter((r) => r.release !== m.current && r.publishedAt !== undefined)
  const byCount = m.current === undefined ? policy.releases : policy.releases - 1
  const required = new Set<string>()
  const expired = new Set<string>()
  for (const r of records) {
    if (r.release === m.current) {
      required.add(r.release)
      continue
    }
    if (r.publishedAt === undefined) {
      const age = now - r.createdAt
      if (age < Math.max(policy.grace, policy.minAge, PENDING_WAIT_MIN)) required.add(r.release)
      else expired.add(r.release)
      continue
    }
    const replacedAt = r.replacedAt!
    const atLeast = replaced.filter((s) => s !== r && s.replacedAt! >= replacedAt).length
    const above = replaced.filter((s) => s !== r && s.replacedAt! > replacedAt).length
    const young = now - r.publishedAt < policy.minAge
    const inGrace = now - replacedAt < policy.grace
    if (young || inGrace || atLeast < byCount) required.add(r.release)
    else if (above >= byCount) expired.add(r.release)
  }
  return { required, expired }
}

function checkPlan(m: BucketModel, plan: PrunePlan, leak: boolean) {
  const leaked = leak && m.outside.size > 0
  if (leaked) {
    expect(plan.refused).toMatch(/outside the prefix/)
    expect(plan.deletions).toEqual([])
    return
  }
  expect(plan.refused).toBeUndefined()
  expect(plan.warnings).toEqual([]) // the model never skews clocks nor leaves records stale

  const keptReleases = new Set(plan.releases.filter((r) => r.keep).map((r) => r.release))
  const { required, expired } = oracle(m)
  for (const r of required) expect(keptReleases, `release ${r} must be kept`).toContain(r)
  for (const r of expired) expect(keptReleases, `release ${r} must not be kept`).not.toContain(r)

  const named = new Map<string, boolean>() // key → named by a kept release
  for (const r of m.records()) {
    const keep = keptReleases.has(r.release)
    named.set(r.recordKey, (named.get(r.recordKey) ?? false) || keep)
    for (const k of r.keys) named.set(k, (named.get(k) ?? false) || keep)
  }
  const listed = new Map(m.listing(false).map((o) => [o.key, o]))
  let bytes = 0
  for (const key of plan.deletions) {
    const o = listed.get(key)
    expect(o, `${key} deleted but not listed`).toBeDefined()
    bytes += o!.size
    expect(key.startsWith(m.prefix)).toBe(true)
    expect(key).not.toBe(m.manifestKey)
    expect(named.get(key), `${key} is named by a kept release`).not.toBe(true)
    if (!named.has(key)) {
      // An orphan: only with orphans 'delete', only older than grace, never plugin data.
      expect(m.policy.orphans).toBe('delete')
      expect(m.now - o!.lastModified).toBeGreaterThan(m.policy.grace)
      expect(key.startsWith(`${m.prefix}.cdn-publish/`)).toBe(false)
    }
  }
  expect(plan.bytesFreed).toBe(bytes)
  expect(new Set(plan.deletions).size).toBe(plan.deletions.length)

  // Records of deleted releases come after every other deletion.
  const recordKeys = new Set(m.records().map((r) => r.recordKey))
  const firstRecord = plan.deletions.findIndex((k) => recordKeys.has(k))
  if (firstRecord >= 0) expect(plan.deletions.slice(firstRecord).every((k) => recordKeys.has(k))).toBe(true)
}

function checkInvariants(m: BucketModel) {
  // Every key that was present when the last plan kept its release is still there.
  for (const [release, keys] of m.lastKept) {
    for (const k of keys) expect(m.objects.has(k), `${k} of kept release ${release} is gone`).toBe(true)
  }
  // The current release is always complete, and the manifest names it.
  if (m.current !== undefined) {
    const cur = m.record(m.current)
    expect(cur, `record of current release ${m.current}`).toBeDefined()
    expect(m.complete(cur!), `current release ${m.current} is complete`).toBe(true)
    expect(m.objects.has(m.manifestKey)).toBe(true)
  }
  // Nothing outside the prefix ever changed.
  for (const [key, o] of m.objects) {
    if (!key.startsWith(m.prefix)) expect(m.outside.get(key), `outside key ${key}`).toEqual(o)
  }
  for (const key of m.outside.keys()) expect(m.objects.has(key), `outside key ${key} deleted`).toBe(true)
  // Orphans are never deleted with orphans: 'keep'; the plugin's own data never as orphans.
  for (const key of m.orphans) {
    if (m.policy.orphans === 'keep' || key.startsWith(`${m.prefix}.cdn-publish/`)) expect(m.objects.has(key)).toBe(true)
  }
}

function run(params: Params, ops: Op[]) {
  const m = new BucketModel(params)
  for (const op of ops) {
    switch (op.kind) {
      case 'publish':
        m.publish(op)
        break
      case 'advance':
        m.now += op.ms
        break
      case 'rollback':
        m.rollback(op.pick)
        break
      case 'writeOutside':
        m.writeOutside(op.name, op.variant)
        break
      case 'writeOrphan':
        m.writeOrphan(op.name, op.meta)
        break
      case 'prune': {
        const plan = m.plan(op.leak)
        checkPlan(m, plan, op.leak)
        m.apply(plan, op.interruptAt)
        if (plan.refused === undefined && (op.interruptAt === null || op.interruptAt >= plan.deletions.length)) {
          // A completed prune converges: planning again at the same time deletes nothing more.
          const again = m.plan(false)
          expect(again.deletions).toEqual([])
          expect(again.releases.every((r) => r.keep)).toBe(true)
        }
        break
      }
    }
    checkInvariants(m)
  }
  return m
}

const paramsArb: fc.Arbitrary<Params> = fc.record({
  prefix: fc.constantFrom('app/', 'sites/shop/', ''),
  policy: fc.record({
    releases: fc.integer({ min: 1, max: 4 }),
    minAge: fc.constantFrom(0, 30 * M, 1 * H),
    grace: fc.constantFrom(0, 1, 10 * M, 1 * H, 48 * H),
    orphans: fc.constantFrom('keep' as const, 'delete' as const),
  }),
})

function opArb(p: Params): fc.Arbitrary<Op> {
  const grace = p.policy.grace
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('publish' as const),
        files: fc.uniqueArray(fc.integer({ min: 0, max: POOL - 1 }), { maxLength: POOL }),
        versions: fc.array(fc.integer({ min: 0, max: VERSIONS - 1 }), { minLength: POOL, maxLength: POOL }),
        failAfter: fc.option(fc.integer({ min: 0, max: POOL }), { freq: 5 }),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('prune' as const),
        interruptAt: fc.option(fc.integer({ min: 0, max: 6 }), { freq: 3 }),
        leak: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 * H }), fc.integer({ min: grace, max: 3 * grace + 1 })),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('rollback' as const), pick: fc.nat(20) }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('writeOutside' as const), name: fc.nat(5), variant: fc.nat(3) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('writeOrphan' as const), name: fc.nat(5), meta: fc.boolean() }) },
  )
}

describe('planPrune against a model bucket', () => {
  it(
    `never deletes what a kept release, the current release or another tool needs (${NUM_RUNS} sequences)`,
    () => {
      fc.assert(
        fc.property(
          paramsArb.chain((p) => fc.tuple(fc.constant(p), fc.array(opArb(p), { minLength: 5, maxLength: 60, size: 'max' }))),
          ([params, ops]) => {
            run(params, ops)
          },
        ),
        { numRuns: NUM_RUNS },
      )
    },
    Math.max(60_000, NUM_RUNS * 200),
  )

  it('a sample sequence exercises every rule (the generator is not vacuous)', () => {
    const params: Params = { prefix: 'app/', policy: { releases: 2, minAge: 1 * H, grace: 48 * H, orphans: 'delete' } }
    const all = Array.from({ length: POOL }, (_, i) => i)
    const publish = (v: number, failAfter: number | null = null): Op => ({
      kind: 'publish',
      files: all.filter((i) => (i + v) % 3 !== 0),
      versions: all.map((i) => (i < v ? 1 : 0)),
      failAfter,
    })
    const ops: Op[] = [
      { kind: 'writeOrphan', name: 1, meta: false },
      { kind: 'writeOutside', name: 1, variant: 0 },
      publish(0),
      { kind: 'advance', ms: 2 * H },
      publish(1),
      publish(2, 2),
      { kind: 'advance', ms: 2 * H },
      publish(3),
      { kind: 'rollback', pick: 1 }, // candidates r001, r002: back to r002
      { kind: 'advance', ms: 100 * H },
      publish(4),
      { kind: 'prune', interruptAt: 2, leak: false },
      { kind: 'prune', interruptAt: null, leak: true },
      { kind: 'prune', interruptAt: null, leak: false },
    ]
    const m = run(params, ops)
    expect(m.plans).toBe(3)
    // r001..r005 published, r003 failed (pending, abandoned), r002 rolled back to then replaced by r005.
    expect(m.records().map((r) => r.release)).toEqual(['r002', 'r005'])
    expect(m.objects.has('app/legacy/1.js')).toBe(false)
    expect(m.objects.has('other/1.js')).toBe(true)
  })
})
