import { describe, expect, it } from 'vitest'
import { CdnPublishError, Codes } from '../src/errors.js'
import { formatDuration, parseDuration } from '../src/util/duration.js'
import { resolveRetention } from '../src/options/retention.js'
import {
  planPrune,
  type ListedObject,
  type ObjectDecision,
  type PolicyInput,
  type PrunePlan,
  type ReleaseRecordView,
} from '../src/retention/policy.js'
import type { RetentionPolicy } from '../src/options/types.js'
import { recordKey as recordKeyOf } from './helpers/keys.js'

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H
const T0 = Date.UTC(2025, 0, 1)

const PREFIX = 'app/'
const MANIFEST = `${PREFIX}cdn-manifest.json`
const POLICY: RetentionPolicy = { releases: 3, minAge: 1 * H, grace: 48 * H, orphans: 'keep' }

const recordKey = (id: string, prefix = PREFIX) => recordKeyOf(prefix, id)
const file = (name: string) => `${PREFIX}${name}`

/** A release that has been current from `publishedAt` (and replaced at `replacedAt` if given). */
function rel(
  release: string,
  files: string[],
  times: { createdAt?: number; publishedAt?: number; replacedAt?: number; state?: ReleaseRecordView['state'] },
): ReleaseRecordView {
  const state = times.state ?? (times.publishedAt === undefined ? 'pending' : times.replacedAt === undefined ? 'current' : 'replaced')
  return {
    release,
    recordKey: recordKey(release),
    state,
    createdAt: times.createdAt ?? times.publishedAt ?? T0,
    ...(times.publishedAt !== undefined ? { publishedAt: times.publishedAt } : {}),
    ...(times.replacedAt !== undefined ? { replacedAt: times.replacedAt } : {}),
    keys: files.map(file),
  }
}

/** Lists every key the records name, their records and the manifest, plus `extra`. */
function bucket(records: ReleaseRecordView[], extra: ListedObject[] = [], size = 100): ListedObject[] {
  const keys = new Set<string>([MANIFEST])
  for (const r of records) {
    keys.add(r.recordKey)
    for (const k of r.keys) keys.add(k)
  }
  return [...[...keys].map((key) => ({ key, size, lastModified: T0 })), ...extra]
}

function plan(over: Partial<PolicyInput> & { records: ReleaseRecordView[]; now: number }): PrunePlan {
  return planPrune({
    prefix: PREFIX,
    current: undefined,
    listing: bucket(over.records),
    protectedKeys: [MANIFEST],
    policy: POLICY,
    ...over,
  })
}

const obj = (p: PrunePlan, key: string): ObjectDecision => {
  const o = p.objects.find((x) => x.key === key)
  if (!o) throw new Error(`no decision for ${key}`)
  return o
}
const rdec = (p: PrunePlan, id: string) => {
  const r = p.releases.find((x) => x.release === id)
  if (!r) throw new Error(`no decision for release ${id}`)
  return r
}
const deleted = (p: PrunePlan) => new Set(p.deletions)

function expectNothingDeleted(p: PrunePlan) {
  expect(p.deletions).toEqual([])
  expect(p.bytesFreed).toBe(0)
  expect(p.objects.every((o) => o.action === 'keep')).toBe(true)
}

/**
 * A history of releases r1..rN, one every `step`, the last one current; each names a shared file,
 * a file of its own and `index.html`.
 */
function history(n: number, start: number, step: number): ReleaseRecordView[] {
  const out: ReleaseRecordView[] = []
  for (let i = 1; i <= n; i++) {
    const at = start + (i - 1) * step
    out.push(
      rel(`r${i}`, ['index.html', 'assets/shared-aaaa.js', `assets/own-${i}.js`], {
        publishedAt: at,
        ...(i < n ? { replacedAt: at + step } : {}),
      }),
    )
  }
  return out
}

describe('planPrune: s3_asset_deploy scenarios', () => {
  it('(a) removed_ttl: a file removed from the build stays until grace after its release was replaced, then goes at grace + 1 s', () => {
    // version_limit 0 (releases: 1), so only time keeps the old release.
    const policy = { ...POLICY, releases: 1 }
    const replacedAt = T0 + 10 * D
    const records = [
      rel('r1', ['index.html', 'assets/app-1111.js', 'assets/removed-2222.js'], { publishedAt: T0, replacedAt }),
      rel('r2', ['index.html', 'assets/app-1111.js'], { publishedAt: replacedAt }),
    ]
    const before = plan({ records, current: 'r2', now: replacedAt + 48 * H - S, policy })
    expect(obj(before, file('assets/removed-2222.js'))).toMatchObject({ action: 'keep', reason: 'named-by-kept-release' })
    expect(rdec(before, 'r1')).toEqual({ release: 'r1', keep: true, reasons: ['replaced 47h ago (< grace 48h)'] })
    expectNothingDeleted(before)

    const after = plan({ records, current: 'r2', now: replacedAt + 48 * H + S, policy })
    expect(rdec(after, 'r1').keep).toBe(false)
    expect(obj(after, file('assets/removed-2222.js'))).toMatchObject({ action: 'delete', reason: 'file-of-expired-releases-only' })
    expect(obj(after, recordKey('r1'))).toMatchObject({ action: 'delete', reason: 'release-expired' })
    // The file still in the build stays.
    expect(obj(after, file('assets/app-1111.js'))).toMatchObject({ action: 'keep', reason: 'named-by-kept-release' })
    expect(after.deletions).toEqual([file('assets/removed-2222.js'), recordKey('r1')])
  })

  it('(b) version_limit: with releases 3, the 4th most recent release goes, files shared with kept ones stay', () => {
    const records = history(5, T0, 1 * D) // r5 current; all replacements days ago
    const now = T0 + 30 * D
    const p = plan({ records, current: 'r5', now, policy: { ...POLICY, grace: 1 * H } })
    expect(p.releases.map((r) => [r.release, r.keep])).toEqual([
      ['r1', false],
      ['r2', false],
      ['r3', true],
      ['r4', true],
      ['r5', true],
    ])
    expect(rdec(p, 'r5').reasons).toEqual(['current'])
    expect(rdec(p, 'r4').reasons).toEqual(['one of the 3 most recent releases'])
    expect(rdec(p, 'r2').reasons).toEqual(['not among the 3 most recent releases', 'published 29d ago (>= minAge 1h)', 'replaced 28d ago (>= grace 1h)'])
    expect(deleted(p)).toEqual(new Set([file('assets/own-1.js'), file('assets/own-2.js'), recordKey('r1'), recordKey('r2')]))
    expect(obj(p, file('assets/shared-aaaa.js'))).toMatchObject({ action: 'keep', reason: 'named-by-kept-release' })
    expect(obj(p, file('assets/shared-aaaa.js')).detail).toBe('named by release r5 (current)')
    expect(obj(p, file('assets/own-3.js')).detail).toBe('named by release r3 (one of the 3 most recent releases)')
    expect(obj(p, file('index.html')).action).toBe('keep')
    expect(obj(p, recordKey('r3'))).toMatchObject({ action: 'keep', reason: 'recent-release' })
    expect(obj(p, recordKey('r5'))).toMatchObject({ action: 'keep', reason: 'current' })
  })

  it('(c) version_ttl: a release younger than minAge is kept beyond the version limit', () => {
    const policy = { ...POLICY, releases: 1, grace: 0 }
    const records = [
      rel('r1', ['assets/a-1.js'], { publishedAt: T0, replacedAt: T0 + 20 * M }),
      rel('r2', ['assets/a-2.js'], { publishedAt: T0 + 20 * M }),
    ]
    const young = plan({ records, current: 'r2', now: T0 + 40 * M, policy })
    expect(rdec(young, 'r1')).toEqual({ release: 'r1', keep: true, reasons: ['published 40m ago (< minAge 1h)'] })
    expect(obj(young, file('assets/a-1.js')).action).toBe('keep')
    expect(obj(young, recordKey('r1'))).toMatchObject({ action: 'keep', reason: 'min-age' })
    expectNothingDeleted(young)

    const old = plan({ records, current: 'r2', now: T0 + 1 * H + S, policy })
    expect(rdec(old, 'r1').keep).toBe(false)
    expect(old.deletions).toEqual([file('assets/a-1.js'), recordKey('r1')])
  })

  it('(d) first run on a bucket with pre-existing objects and no records deletes nothing', () => {
    const listing = [
      { key: file('index.html'), size: 10, lastModified: T0 - 400 * D },
      { key: file('assets/legacy.js'), size: 10, lastModified: T0 - 400 * D },
      { key: MANIFEST, size: 10, lastModified: T0 - 400 * D },
    ]
    const p = plan({ records: [], listing, now: T0 })
    expectNothingDeleted(p)
    expect(p.refused).toBeUndefined()
    expect(obj(p, file('assets/legacy.js'))).toMatchObject({ reason: 'orphan-kept' })
    expect(obj(p, MANIFEST)).toMatchObject({ reason: 'protected' })

    // The same after the first publish: the old objects are orphans, kept by default.
    const records = [rel('r1', ['index.html', 'assets/app-1.js'], { publishedAt: T0 })]
    const first = plan({ records, current: 'r1', listing: [...bucket(records), listing[1]], now: T0 + 1 * D })
    expectNothingDeleted(first)
  })
})

describe('planPrune: rules', () => {
  it('keeps the current release whatever its age and state', () => {
    const records = [rel('r1', ['a.js'], { publishedAt: T0, replacedAt: T0 + H, state: 'pending' })]
    const p = plan({ records, current: 'r1', now: T0 + 1000 * D, policy: { ...POLICY, releases: 1, minAge: 0, grace: 0 } })
    expect(rdec(p, 'r1')).toEqual({ release: 'r1', keep: true, reasons: ['current'] })
    expectNothingDeleted(p)
  })

  it('keeps a release replaced less than grace ago, with the reason', () => {
    const records = [
      rel('r1', ['a-1.js'], { publishedAt: T0, replacedAt: T0 + 10 * D }),
      rel('r2', ['a-2.js'], { publishedAt: T0 + 10 * D }),
    ]
    const p = plan({ records, current: 'r2', now: T0 + 10 * D + 3 * H, policy: { ...POLICY, releases: 1 } })
    expect(rdec(p, 'r1').reasons).toEqual(['replaced 3h ago (< grace 48h)'])
    expect(obj(p, recordKey('r1'))).toMatchObject({ action: 'keep', reason: 'grace' })
  })

  it('lists every reason a release is kept for', () => {
    const records = history(2, T0, 20 * M)
    const p = plan({ records, current: 'r2', now: T0 + 40 * M })
    expect(rdec(p, 'r1').reasons).toEqual(['one of the 3 most recent releases', 'published 40m ago (< minAge 1h)', 'replaced 20m ago (< grace 48h)'])
  })

  it('orders replaced releases by replacedAt, not by publication (a rollback)', () => {
    // r1, r2, r3 published in turn; rollback to r1 (r3 replaced), then r4 published (r1 replaced).
    const records = [
      rel('r1', ['f1'], { publishedAt: T0, replacedAt: T0 + 4 * D }),
      rel('r2', ['f2'], { publishedAt: T0 + 1 * D, replacedAt: T0 + 2 * D }),
      rel('r3', ['f3'], { publishedAt: T0 + 2 * D, replacedAt: T0 + 3 * D }),
      rel('r4', ['f4'], { publishedAt: T0 + 4 * D }),
    ]
    const p = plan({ records, current: 'r4', now: T0 + 20 * D })
    expect(p.releases.filter((r) => r.keep).map((r) => r.release)).toEqual(['r1', 'r3', 'r4'])
    expect(p.deletions).toEqual([file('f2'), recordKey('r2')])
  })

  it('breaks replacedAt ties by publishedAt, then by release id', () => {
    const records = [
      rel('a', ['fa'], { publishedAt: T0, replacedAt: T0 + D }),
      rel('b', ['fb'], { publishedAt: T0 + 1, replacedAt: T0 + D }),
      rel('c', ['fc'], { publishedAt: T0 + 1, replacedAt: T0 + D }),
      rel('d', ['fd'], { publishedAt: T0 + D }),
    ]
    const p = plan({ records, current: 'd', now: T0 + 20 * D, policy: { ...POLICY, releases: 2 } })
    expect(p.releases.filter((r) => r.keep).map((r) => r.release)).toEqual(['c', 'd'])
  })

  it('keeps `releases` most recent releases when no release is current', () => {
    const records = history(4, T0, D).map((r) => (r.release === 'r4' ? { ...r, state: 'replaced' as const, replacedAt: T0 + 4 * D } : r))
    const p = plan({ records, current: undefined, now: T0 + 30 * D })
    expect(p.releases.filter((r) => r.keep).map((r) => r.release)).toEqual(['r2', 'r3', 'r4'])
  })

  it('keeps a file shared by a deleted and a kept release, deletes the files only deleted releases name', () => {
    const records = [
      rel('r1', ['shared.js', 'only-1.js', 'old-shared.js'], { publishedAt: T0, replacedAt: T0 + D }),
      rel('r2', ['shared.js', 'only-2.js', 'old-shared.js'], { publishedAt: T0 + D, replacedAt: T0 + 2 * D }),
      rel('r3', ['shared.js', 'only-3.js'], { publishedAt: T0 + 2 * D }),
    ]
    const p = plan({ records, current: 'r3', now: T0 + 30 * D, policy: { ...POLICY, releases: 1 } })
    expect(p.deletions).toEqual([file('old-shared.js'), file('only-1.js'), file('only-2.js'), recordKey('r1'), recordKey('r2')])
    expect(obj(p, file('shared.js')).action).toBe('keep')
  })

  it('keeps a pending release younger than grace (a publish in progress)', () => {
    const records = [
      rel('r1', ['a.js'], { publishedAt: T0 }),
      rel('r2', ['b.js', 'a.js'], { createdAt: T0 + 10 * D - 5 * M }),
    ]
    const p = plan({ records, current: 'r1', now: T0 + 10 * D })
    expect(rdec(p, 'r2').reasons).toEqual([
      'created 5m ago (< minAge 1h)',
      'pending, created 5m ago (< grace 48h): its publish may be in progress',
    ])
    expectNothingDeleted(p)

    const later = plan({ records, current: 'r1', now: T0 + 10 * D + 2 * H })
    expect(rdec(later, 'r2').keep).toBe(true)
    expect(obj(later, recordKey('r2'))).toMatchObject({ reason: 'pending-young' })
    expect(obj(later, file('b.js'))).toMatchObject({ reason: 'named-by-kept-release' })
  })

  it('waits at least 1 h for a pending release even with grace 0: a publish still uploading keeps its files', () => {
    const records = [rel('r1', ['a.js'], { publishedAt: T0 }), rel('r2', ['b.js'], { createdAt: T0 + D - 59 * M })]
    const zero = { ...POLICY, releases: 1, minAge: 0, grace: 0 }
    const p = plan({ records, current: 'r1', now: T0 + D, policy: zero })
    expect(rdec(p, 'r2')).toEqual({ release: 'r2', keep: true, reasons: ['pending, created 59m ago (< 1h, the least an unfinished publish is waited for): its publish may be in progress'] })
    expect(obj(p, file('b.js'))).toMatchObject({ action: 'keep', reason: 'named-by-kept-release' })
    const later = plan({ records, current: 'r1', now: T0 + D + M, policy: zero })
    expect(rdec(later, 'r2').keep).toBe(false)
    expect(later.deletions).toEqual([file('b.js'), recordKey('r2')])
  })

  it('deletes an abandoned pending release (older than grace), but not the files it shares', () => {
    const records = [
      rel('r1', ['a.js'], { publishedAt: T0 }),
      rel('r2', ['b.js', 'a.js'], { createdAt: T0 + D }),
    ]
    const p = plan({ records, current: 'r1', now: T0 + 3 * D + S })
    expect(rdec(p, 'r2')).toEqual({ release: 'r2', keep: false, reasons: ['pending, created 48h ago (>= grace 48h): an abandoned publish'] })
    expect(obj(p, file('b.js'))).toMatchObject({ action: 'delete', reason: 'pending-abandoned' })
    expect(obj(p, recordKey('r2'))).toMatchObject({ action: 'delete', reason: 'pending-abandoned' })
    expect(obj(p, file('a.js')).action).toBe('keep')
    expect(p.deletions).toEqual([file('b.js'), recordKey('r2')])
  })

  it('does not count pending releases among the most recent', () => {
    const records = [...history(3, T0, D), rel('p1', ['p.js'], { createdAt: T0 + 29 * D })]
    const p = plan({ records, current: 'r3', now: T0 + 30 * D })
    expect(p.releases.filter((r) => r.keep).map((r) => r.release)).toEqual(['p1', 'r1', 'r2', 'r3'])
  })

  it('a file named by an expired and an abandoned release is an expired release file', () => {
    const records = [
      rel('r1', ['x.js'], { publishedAt: T0, replacedAt: T0 + D }),
      rel('r2', ['y.js'], { publishedAt: T0 + D }),
      rel('p', ['x.js'], { createdAt: T0 + D }),
    ]
    const p = plan({ records, current: 'r2', now: T0 + 30 * D, policy: { ...POLICY, releases: 1 } })
    expect(obj(p, file('x.js'))).toMatchObject({ action: 'delete', reason: 'file-of-expired-releases-only' })
  })

  it('treats a timestamp in the future as age 0: kept, with a warning', () => {
    const now = T0 + 10 * D
    const records = [
      rel('r1', ['a.js'], { publishedAt: now + 5 * M, replacedAt: now + 6 * M }),
      rel('r2', ['b.js'], { publishedAt: now + 6 * M }),
      rel('p', ['c.js'], { createdAt: now + H }),
    ]
    const p = plan({ records, current: 'r2', now, policy: { releases: 1, minAge: 0, grace: 0, orphans: 'keep' } })
    expect(rdec(p, 'r1').keep).toBe(true)
    expect(rdec(p, 'r1').reasons).toEqual([
      'published in the future (clock skew): treated as age 0',
      'replaced in the future (clock skew): treated as age 0',
    ])
    expect(rdec(p, 'p').keep).toBe(true)
    expectNothingDeleted(p)
    expect(p.warnings).toHaveLength(3)
    expect(p.warnings.join('\n')).toMatch(/release r1: publishedAt is in the future \(clock skew\?\)/)
    expect(p.warnings.join('\n')).toMatch(/release p: createdAt is in the future/)
  })

  it('a record still saying current although another release is: replaced when the next release was published', () => {
    const records = [
      rel('r1', ['a.js'], { publishedAt: T0, replacedAt: T0 - 400 * D, state: 'current' }),
      rel('r2', ['b.js'], { publishedAt: T0 + 10 * D }),
    ]
    const policy = { ...POLICY, releases: 1 }
    const within = plan({ records, current: 'r2', now: T0 + 10 * D + H, policy })
    expect(rdec(within, 'r1').reasons).toEqual(['replaced 1h ago (< grace 48h)'])
    expect(within.warnings.join('\n')).toMatch(/r1 is not current but its record says state 'current'; it is treated as replaced when the next release was published \(1h ago\)/)
    const past = plan({ records, current: 'r2', now: T0 + 13 * D, policy })
    expect(rdec(past, 'r1').keep).toBe(false)

    // No later release: assumed replaced just now, so kept.
    const rollback = [rel('r1', ['a.js'], { publishedAt: T0 + D, state: 'current' }), rel('r0', ['b.js'], { publishedAt: T0 })]
    const p = plan({ records: rollback, current: 'r0', now: T0 + 30 * D, policy })
    expect(rdec(p, 'r1').keep).toBe(true)
    expect(p.warnings.join('\n')).toMatch(/treated as replaced just now/)
  })

  it('a stale current record is never assumed replaced before it last became current', () => {
    // a, b, d published in turn; rollback to a (its record rewritten then); c published, but a's
    // record was not updated: it still says 'current', with the replacedAt of its first replacement.
    const t = (h: number) => T0 + h * H
    const records = [
      rel('a', ['fa'], { publishedAt: t(0), replacedAt: t(1), state: 'current' }),
      rel('b', ['fb'], { publishedAt: t(1), replacedAt: t(2) }),
      rel('d', ['fd'], { publishedAt: t(2), replacedAt: t(100) }),
      rel('c', ['fc'], { publishedAt: t(200) }),
    ]
    const listing = bucket(records).map((o) => (o.key === recordKey('a') ? { ...o, lastModified: t(100) } : o))
    const policy = { ...POLICY, releases: 1, minAge: 0 }
    const p = plan({ records, current: 'c', now: t(201), listing, policy })
    expect(rdec(p, 'a')).toEqual({ release: 'a', keep: true, reasons: ['replaced 1h ago (< grace 48h)'] })
    expect(p.deletions).toEqual([file('fb'), file('fd'), recordKey('b'), recordKey('d')])

    // A 'replaced' record without replacedAt: replaced when its record was last written.
    const noTime = [rel('x', ['fx'], { publishedAt: t(0), state: 'replaced' }), rel('y', ['fy'], { publishedAt: t(1) })]
    const listed = bucket(noTime).map((o) => (o.key === recordKey('x') ? { ...o, lastModified: t(150) } : o))
    const q = plan({ records: noTime, current: 'y', now: t(160), listing: listed, policy })
    expect(rdec(q, 'x').reasons).toEqual(['replaced 10h ago (< grace 48h)'])
    expect(q.warnings).toEqual([
      'release x is not current but its record says nothing about when it was replaced; it is treated as replaced when its record was last written (10h ago).',
    ])
  })

  it('orphans: kept by default; with orphans delete, only those older than grace go', () => {
    const records = [rel('r1', ['a.js'], { publishedAt: T0 })]
    const now = T0 + 10 * D
    const extra = [
      { key: file('legacy/old.js'), size: 7, lastModified: now - 48 * H - 1 },
      { key: file('legacy/edge.js'), size: 7, lastModified: now - 48 * H },
      { key: file('legacy/young.js'), size: 7, lastModified: now - H },
      { key: file('legacy/future.js'), size: 7, lastModified: now + H },
    ]
    const listing = bucket(records, extra)
    const keep = plan({ records, current: 'r1', now, listing })
    expectNothingDeleted(keep)
    expect(obj(keep, file('legacy/old.js'))).toMatchObject({ reason: 'orphan-kept' })

    const del = plan({ records, current: 'r1', now, listing, policy: { ...POLICY, orphans: 'delete' } })
    expect(del.deletions).toEqual([file('legacy/old.js')])
    expect(obj(del, file('legacy/old.js'))).toMatchObject({ action: 'delete', reason: 'orphan-expired' })
    expect(obj(del, file('legacy/edge.js'))).toMatchObject({ action: 'keep', reason: 'orphan-young' })
    expect(obj(del, file('legacy/young.js'))).toMatchObject({ action: 'keep', reason: 'orphan-young' })
    expect(obj(del, file('legacy/future.js'))).toMatchObject({ action: 'keep', reason: 'orphan-young' })
    expect(del.warnings.join('\n')).toMatch(/1 orphan object\(s\) were modified in the future/)
    expect(del.bytesFreed).toBe(7)
    // The manifest and the current record are never orphans.
    expect(obj(del, MANIFEST)).toMatchObject({ action: 'keep', reason: 'protected' })
    expect(obj(del, recordKey('r1'))).toMatchObject({ action: 'keep', reason: 'current' })
  })

  it('never deletes the plugin data under .cdn-publish/ as orphans; warns about records it was not given', () => {
    const records = [rel('r1', ['a.js'], { publishedAt: T0 })]
    const extra = [
      { key: recordKey('ghost'), size: 1, lastModified: T0 - 400 * D },
      { key: file('.cdn-publish/lock'), size: 1, lastModified: T0 - 400 * D },
    ]
    const p = plan({ records, current: 'r1', now: T0 + 10 * D, listing: bucket(records, extra), policy: { ...POLICY, orphans: 'delete' } })
    expectNothingDeleted(p)
    expect(obj(p, recordKey('ghost')).reason).toBe('protected')
    expect(p.warnings.join('\n')).toMatch(/look like release records but were not read/)
  })

  it('puts release files first, then orphans, then the records of deleted releases', () => {
    const records = [
      rel('r1', ['z-1.js', 'a-1.js'], { publishedAt: T0, replacedAt: T0 + D }),
      rel('r2', ['m-2.js'], { publishedAt: T0 + D, replacedAt: T0 + 2 * D }),
      rel('r3', ['b-3.js'], { publishedAt: T0 + 2 * D }),
    ]
    const extra = [
      { key: file('0-orphan.js'), size: 5, lastModified: T0 },
      { key: file('~orphan.js'), size: 5, lastModified: T0 },
    ]
    const p = plan({
      records,
      current: 'r3',
      now: T0 + 30 * D,
      listing: bucket(records, extra),
      policy: { ...POLICY, releases: 1, orphans: 'delete' },
    })
    expect(p.deletions).toEqual([
      file('a-1.js'),
      file('m-2.js'),
      file('z-1.js'),
      file('0-orphan.js'),
      file('~orphan.js'),
      recordKey('r1'),
      recordKey('r2'),
    ])
    expect(p.bytesFreed).toBe(5 * 100 + 2 * 5)
  })

  it('never deletes protected keys, even when a deleted release names them', () => {
    const records = [
      rel('r1', ['report.json', 'a.js'], { publishedAt: T0, replacedAt: T0 + D }),
      rel('r2', ['b.js'], { publishedAt: T0 + D }),
    ]
    const p = plan({
      records,
      current: 'r2',
      now: T0 + 30 * D,
      protectedKeys: [MANIFEST, file('report.json')],
      policy: { ...POLICY, releases: 1, orphans: 'delete' },
    })
    expect(obj(p, file('report.json'))).toMatchObject({ action: 'keep', reason: 'protected' })
    expect(p.deletions).toEqual([file('a.js'), recordKey('r1')])
  })

  it('bytesFreed sums the listed sizes of the deletions', () => {
    const records = history(3, T0, D)
    const listing = bucket(records).map((o, i) => ({ ...o, size: 1000 + i }))
    const p = plan({ records, current: 'r3', now: T0 + 30 * D, listing, policy: { ...POLICY, releases: 1 } })
    const size = new Map(listing.map((o) => [o.key, o.size]))
    expect(p.deletions.length).toBe(4)
    expect(p.bytesFreed).toBe(p.deletions.reduce((s, k) => s + size.get(k)!, 0))
  })

  it('only decides about listed objects; a record key missing from the listing is not deleted', () => {
    const records = history(2, T0, D)
    const listing = bucket(records).filter((o) => o.key !== recordKey('r1'))
    const p = plan({ records, current: 'r2', now: T0 + 30 * D, listing, policy: { ...POLICY, releases: 1 } })
    expect(p.deletions).toEqual([file('assets/own-1.js')])
    expect(p.objects.map((o) => o.key)).toEqual(listing.map((o) => o.key).sort())
  })

  it('warns when the current release names keys missing from the bucket', () => {
    const records = [rel('r1', ['a.js', 'gone.js'], { publishedAt: T0 })]
    const listing = bucket(records).filter((o) => o.key !== file('gone.js'))
    const p = plan({ records, current: 'r1', now: T0, listing })
    expect(p.warnings).toEqual([`the current release r1 names 1 key(s) missing from the bucket: "${file('gone.js')}".`])
  })

  it('works with an empty prefix', () => {
    const records: ReleaseRecordView[] = [
      { release: 'r1', recordKey: recordKey('r1', ''), state: 'replaced', createdAt: T0, publishedAt: T0, replacedAt: T0 + D, keys: ['a.js'] },
      { release: 'r2', recordKey: recordKey('r2', ''), state: 'current', createdAt: T0 + D, publishedAt: T0 + D, keys: ['b.js'] },
    ]
    const listing = ['a.js', 'b.js', recordKey('r1', ''), recordKey('r2', ''), 'cdn-manifest.json'].map((key) => ({ key, size: 1, lastModified: T0 }))
    const p = planPrune({ prefix: '', now: T0 + 30 * D, current: 'r2', records, listing, protectedKeys: ['cdn-manifest.json'], policy: { ...POLICY, releases: 1 } })
    expect(p.refused).toBeUndefined()
    expect(p.deletions).toEqual(['a.js', recordKey('r1', '')])
  })

  it('is deterministic: the order of the input does not matter', () => {
    const records = [...history(6, T0, D), rel('p', ['p.js', 'assets/own-1.js'], { createdAt: T0 })]
    const extra = [
      { key: file('o1'), size: 1, lastModified: T0 },
      { key: file('o2'), size: 1, lastModified: T0 },
    ]
    const listing = bucket(records, extra)
    const input = { records, current: 'r6', now: T0 + 30 * D, listing, policy: { ...POLICY, orphans: 'delete' as const } }
    const a = plan(input)
    const b = plan({ ...input, records: [...records].reverse(), listing: [...listing].reverse() })
    expect(b).toEqual(a)
    expect(a.objects.map((o) => o.key)).toEqual(listing.map((o) => o.key).sort())
    expect(a.releases.map((r) => r.release)).toEqual(['p', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6'])
  })
})

describe('planPrune: refusals delete nothing and say why', () => {
  const records = history(5, T0, D)
  const base = { records, current: 'r5', now: T0 + 30 * D, policy: { ...POLICY, releases: 1, orphans: 'delete' as const } }

  it('sanity: the same input without the problem deletes', () => {
    expect(plan(base).deletions.length).toBeGreaterThan(0)
  })

  function expectRefused(p: PrunePlan, pattern: RegExp) {
    expect(p.refused).toMatch(pattern)
    expectNothingDeleted(p)
    expect(p.objects.every((o) => o.reason === 'refused')).toBe(true)
    expect(p.releases.every((r) => r.keep)).toBe(true)
  }

  it('an unreadable record', () => {
    const p = plan({ ...base, unreadableRecords: [recordKey('broken')] })
    expectRefused(p, /1 release record\(s\) could not be read: "app\/\.cdn-publish\/releases\/broken\.json".*fix or remove/)
  })

  it('a listed key outside the prefix', () => {
    const p = plan({ ...base, listing: [...bucket(records), { key: 'other/app.js', size: 1, lastModified: T0 }] })
    expectRefused(p, /1 key\(s\) outside the prefix "app\/" \("other\/app\.js"\)/)
    // A key that merely starts with the same letters is outside too.
    expectRefused(plan({ ...base, listing: [...bucket(records), { key: 'app.js', size: 1, lastModified: T0 }] }), /outside the prefix/)
  })

  it('a record naming a key outside the prefix', () => {
    const bad = records.map((r) => (r.release === 'r1' ? { ...r, keys: [...r.keys, 'elsewhere/x.js'] } : r))
    expectRefused(plan({ ...base, records: bad, listing: bucket(records) }), /release "r1" names 1 key\(s\) outside the prefix/)
  })

  it('a current release without a record', () => {
    expectRefused(plan({ ...base, current: 'r9' }), /names release "r9", but no record of it exists/)
  })

  it('inconsistent records and a bad policy or prefix', () => {
    expectRefused(plan({ ...base, records: [...records, records[0]] }), /two records describe release "r1"/)
    expectRefused(plan({ ...base, records: records.map((r, i) => (i === 0 ? { ...r, recordKey: file('r1.json') } : r)) }), /not under/)
    expectRefused(plan({ ...base, records: records.map((r, i) => (i === 0 ? { ...r, createdAt: Number.NaN } : r)) }), /invalid timestamp/)
    expectRefused(plan({ ...base, policy: { ...base.policy, releases: 0 } }), /policy is invalid/)
    expectRefused(plan({ ...base, now: Number.NaN }), /current time/)
    expectRefused(plan({ ...base, prefix: 'app' }), /not normalised/)
  })
})

describe('parseDuration / formatDuration', () => {
  it.each([
    ['0', 0],
    [0, 0],
    [1500, 1500],
    ['500ms', 500],
    ['90s', 90 * S],
    ['15m', 15 * M],
    ['1h', H],
    ['1.5h', 1.5 * H],
    ['2d', 2 * D],
    [' 48h ', 48 * H],
    ['.5s', 500],
    ['10 m', 10 * M],
  ] as const)('parses %j', (value, ms) => {
    expect(parseDuration(value, 'retention.grace')).toBe(ms)
  })

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '', '5000', '-1h', '1x', '1h30m', 'h', '1.h', '1H', null, {}, true])(
    'rejects %j naming the option and the accepted forms',
    (value) => {
      let error: unknown
      try {
        parseDuration(value as string, 'retention.grace')
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(CdnPublishError)
      const err = error as CdnPublishError
      expect(err.code).toBe(Codes.INVALID_OPTION)
      expect(err.data.option).toBe('retention.grace')
      expect(err.message).toMatch(/^Invalid option `retention\.grace`: expected .*'90s'.*'1\.5h'/)
    },
  )

  it.each([
    [H, '1h'],
    [48 * H, '48h'],
    [20 * M, '20m'],
    [90 * S, '90s'],
    [500, '500ms'],
    [0, '0ms'],
    [7 * D, '7d'],
    [20 * M + 13 * S, '20m'],
    [3 * H + 12 * M + 5, '3.2h'],
    [5 * D + 3 * H, '5.1d'],
    [47 * H + 59 * M + 59 * S, '47h'],
    [1.5 * H, '90m'],
    [36 * H, '36h'],
    [123 * H, '5.1d'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })
})

describe('resolveRetention', () => {
  it('applies defaults', () => {
    const defaults = { releases: 3, minAge: H, grace: 48 * H, orphans: 'keep', allowRootPrefix: false }
    expect(resolveRetention(undefined)).toEqual(defaults)
    expect(resolveRetention({})).toEqual(defaults)
    expect(resolveRetention(false)).toBe(false)
  })

  it('resolves every option', () => {
    expect(resolveRetention({ releases: 5, minAge: '15m', grace: 3600_000, orphans: 'delete', allowRootPrefix: true })).toEqual({
      releases: 5,
      minAge: 15 * M,
      grace: H,
      orphans: 'delete',
      allowRootPrefix: true,
    })
    expect(resolveRetention({ releases: 1, minAge: '0', grace: 0 })).toMatchObject({ releases: 1, minAge: 0, grace: 0 })
  })

  it.each([
    [{ releases: 0 }, 'retention.releases', /integer >= 1/],
    [{ releases: 2.5 }, 'retention.releases', /integer >= 1/],
    [{ releases: '3' }, 'retention.releases', /got "3"/],
    [{ minAge: '1 hour' }, 'retention.minAge', /'90s'/],
    [{ grace: -5 }, 'retention.grace', /got -5/],
    [{ orphans: 'purge' }, 'retention.orphans', /'keep' or 'delete'/],
    [{ allowRootPrefix: 'yes' }, 'retention.allowRootPrefix', /a boolean/],
    [{ version_limit: 2 }, 'retention.version_limit', /unknown option.*use `releases` \(= version_limit \+ 1\)/],
    [{ removed_ttl: '48h' }, 'retention.removed_ttl', /use `grace`/],
    [true, 'retention', /an object or false/],
    [null, 'retention', /an object or false/],
  ])('rejects %j (%s)', (value, option, message) => {
    let error: unknown
    try {
      resolveRetention(value as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(CdnPublishError)
    expect((error as CdnPublishError).code).toBe(Codes.INVALID_OPTION)
    expect((error as CdnPublishError).data.option).toBe(option)
    expect((error as CdnPublishError).message).toContain(`\`${option}\``)
    expect((error as CdnPublishError).message).toMatch(message)
  })
})
