/**
 * The README's least-privilege IAM policy ("Least-privilege IAM policy"), proven as written: the
 * JSON and the table of which statements each command needs are read from the README, turned
 * into a radosgw bucket policy for a second user (the same IAM policy language, with that user as
 * principal), and the real `cdn-publish` binary runs each command with exactly its row's rights.
 * Then each right is taken away in turn: the command fails with ACCESS_DENIED naming that
 * action, and the bucket is as it was. s3rver has one account and no policies, so the proof runs
 * on radosgw; the README's policy is checked for shape on every run.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PutBucketPolicyCommand } from '@aws-sdk/client-s3'
import { afterAll, describe, expect, inject, test } from 'vitest'
import { removeDir, repoRoot } from './helpers/build.js'
import { cliEnv, runCli, type CliResult } from './helpers/cli.js'
import { adminClient, createBucket, credsEnv, listAll } from './helpers/s3.js'

const servers = inject('s3servers')
/** The second radosgw user (test/servers/rgw-start.sh). */
const RGW_DENIED_UID = 'cdn-denied'
const PREFIX = 'static/'
const PRUNE_ALL_BUT_CURRENT = ['--releases', '1', '--min-age', '0', '--grace', '0']

interface Statement {
  Sid: string
  Effect: 'Allow'
  Action: string
  Resource: string
  Condition?: Record<string, Record<string, string>>
}

/** The README's policy and its table: command cell → the statements it names. */
function readmePolicy(): { statements: Statement[]; rows: Map<string, string[]> } {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('### Least-privilege IAM policy'))
  const json = /```json\n([\s\S]*?)```/.exec(section)![1]!
  const statements = (JSON.parse(json) as { Statement: Statement[] }).Statement
  const rows = new Map<string, string[]>()
  for (const m of section.slice(0, section.indexOf('\n### ')).matchAll(/^\| (`cdn-publish [^|]*?) \| ([A-Za-z, ]+) \|$/gm)) {
    rows.set(m[1]!, m[2]!.split(', '))
  }
  return { statements, rows }
}

const { statements, rows } = readmePolicy()
const row = (command: string) => {
  const names = rows.get(command)
  if (!names) throw new Error(`the README's IAM table has no row ${command}`)
  return names
}
const ROWS = {
  status: row('`cdn-publish status`'),
  publish: row('`cdn-publish publish <dir> --no-prune` (and a build publishing with `retention: false`)'),
  prune: row('`cdn-publish prune`'),
  rollback: row('`cdn-publish rollback <release>`'),
  publishAndPrune: row('`cdn-publish publish <dir>` (publish, then prune), the plugin\'s default'),
}

test("the README's policy: every object statement is scoped to the bucket's prefix, and every table row names its statements", () => {
  expect(statements.map((s) => s.Sid)).toEqual(['List', 'Read', 'Write', 'Lease', 'Prune'])
  for (const s of statements) {
    // listing is bucket-wide (see the README for why a prefix condition breaks 404s); objects are the prefix's
    if (s.Action === 's3:ListBucket') expect(s.Resource).toBe('arn:aws:s3:::my-site-assets')
    else expect(s.Resource.startsWith('arn:aws:s3:::my-site-assets/static/')).toBe(true)
  }
  expect(rows.size).toBe(5)
  for (const names of rows.values()) for (const n of names) expect(statements.map((s) => s.Sid)).toContain(n)
})

const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))

/** A static site to publish (no manifest: the directory pass builds one). */
function site(label: string, text: string): string {
  mkdirSync(path.join(repoRoot, 'test/.tmp'), { recursive: true })
  const dir = mkdtempSync(path.join(repoRoot, 'test/.tmp', `iam-${label}-`))
  dirs.push(dir)
  mkdirSync(path.join(dir, 'site/assets'), { recursive: true })
  const script = `console.log(${JSON.stringify(text)})\n`
  const name = `app.${createHash('sha256').update(script).digest('hex').slice(0, 12)}.js`
  writeFileSync(path.join(dir, 'site/index.html'), `<!doctype html><title>${text}</title><script src="/assets/${name}"></script>\n`)
  writeFileSync(path.join(dir, `site/assets/${name}`), script)
  return dir
}

describe.each(servers.filter((s) => s.deniedUser).map((s) => [s.name, s] as const))('the IAM policy on %s', (_name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())
  const user = server.deniedUser!
  const env = cliEnv(credsEnv(server, user))
  const ownerEnv = cliEnv(credsEnv(server))
  const expectExit = (r: CliResult, code: number) => expect(r.code, `exit code\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(code)

  /** The README's statements named, for `bucket`, as a bucket policy with the second user as principal. */
  async function grant(bucket: string, names: string[]) {
    const chosen = statements.filter((s) => names.includes(s.Sid))
    const policy = JSON.parse(JSON.stringify({ Version: '2012-10-17', Statement: chosen }).replaceAll('my-site-assets', bucket)) as { Statement: object[] }
    policy.Statement = policy.Statement.map((s) => ({ ...s, Principal: { AWS: [`arn:aws:iam:::user/${RGW_DENIED_UID}`] } }))
    await admin.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', ...policy }) }))
  }
  const where = (bucket: string) => ['--bucket', bucket, '--endpoint', server.endpoint, '--prefix', PREFIX]
  /** `publish <dir>` of a site, its report next to it. */
  const publish = (bucket: string, work: string, ...extra: string[]) => ['publish', path.join(work, 'site'), ...extra, ...where(bucket), '--report', path.join(work, 'report.json')]
  const state = async (bucket: string) => (await listAll(admin, bucket)).map((o) => `${o.key} ${o.etag}`).sort()
  const leaseThere = async (bucket: string) => (await listAll(admin, bucket, `${PREFIX}.cdn-publish/lease`)).length > 0
  const statusOf = async (bucket: string) => {
    const r = await runCli(['status', '--json', ...where(bucket)], env)
    expectExit(r, 0)
    return JSON.parse(r.stdout) as { current?: string; releases: { release: string }[] }
  }

  /**
   * A bucket where its owner published releases A then B. (radosgw lets the user who wrote an
   * object read it whatever the policy says, so the rights are proven on the owner's objects.)
   */
  async function twoReleases(label: string) {
    const bucket = await createBucket(admin, `iam-${label}`)
    const a = site('a', 'release A')
    const b = site('b', 'release B')
    for (const dir of [a, b]) expectExit(await runCli(publish(bucket, dir, '--no-prune'), ownerEnv), 0)
    return { bucket, a, b, releaseA: releaseOf(a), releaseB: releaseOf(b) }
  }
  const releaseOf = (dir: string) => (JSON.parse(readFileSync(path.join(dir, 'site/cdn-manifest.json'), 'utf8')) as { release: string }).release

  test('each command works with exactly the statements of its row', async () => {
    const s = await twoReleases('rows')
    await grant(s.bucket, ROWS.status)
    const status = await statusOf(s.bucket)
    expect(status.current).toBe(s.releaseB)
    expect(status.releases.map((r) => r.release).sort()).toEqual([s.releaseA, s.releaseB].sort())

    await grant(s.bucket, ROWS.publish)
    const c = site('c', 'release C')
    expectExit(await runCli(publish(s.bucket, c, '--no-prune'), env), 0)
    expect(await leaseThere(s.bucket), 'the lease is deleted after the switch').toBe(false)
    await grant(s.bucket, ROWS.status)
    expect((await statusOf(s.bucket)).current).toBe(releaseOf(c))

    await grant(s.bucket, ROWS.rollback)
    expectExit(await runCli(['rollback', s.releaseA, ...where(s.bucket)], env), 0)
    expect(await leaseThere(s.bucket)).toBe(false)
    await grant(s.bucket, ROWS.status)
    expect((await statusOf(s.bucket)).current).toBe(s.releaseA)

    await grant(s.bucket, ROWS.prune)
    const before = await state(s.bucket)
    const prune = await runCli(['prune', ...PRUNE_ALL_BUT_CURRENT, ...where(s.bucket)], env)
    expectExit(prune, 0)
    const after = await state(s.bucket)
    expect(after.length).toBeLessThan(before.length)
    // release A (current) is complete; B's and C's files are gone
    expect(after.filter((k) => k.startsWith(`${PREFIX}assets/`))).toHaveLength(1)
    expect(after.some((k) => k.startsWith(`${PREFIX}index.html `))).toBe(true)

    // the plugin's default, publish then prune: B again, A pruned
    await grant(s.bucket, ROWS.publishAndPrune)
    const both = await runCli(publish(s.bucket, s.b, ...PRUNE_ALL_BUT_CURRENT), env)
    expectExit(both, 0)
    expect(both.stderr).not.toMatch(/PRUNE_FAILED|ACCESS_DENIED/)
    await grant(s.bucket, ROWS.status)
    const end = await statusOf(s.bucket)
    expect(end.current).toBe(s.releaseB)
    expect(end.releases.map((r) => r.release)).toEqual([s.releaseB])
  })

  test('one right taken away: ACCESS_DENIED naming that action, and the bucket as it was', async () => {
    const s = await twoReleases('minus')
    const c = site('c', 'release C')
    const commands: [keyof typeof ROWS, string[]][] = [
      ['status', ['status', ...where(s.bucket)]],
      ['publish', publish(s.bucket, c, '--no-prune')],
      ['rollback', ['rollback', s.releaseA, ...where(s.bucket)]],
      ['prune', ['prune', ...PRUNE_ALL_BUT_CURRENT, ...where(s.bucket)]],
    ]
    const seen: string[] = []
    for (const [command, args] of commands) {
      // Lease only lets the run tidy up after itself: without it the run succeeds (README)
      for (const missing of ROWS[command].filter((n) => n !== 'Lease')) {
        const action = statements.find((st) => st.Sid === missing)!.Action
        await grant(s.bucket, ROWS[command].filter((n) => n !== missing))
        const before = await state(s.bucket)
        const r = await runCli(args, env)
        expect(r.code, `${command} without ${missing}\n${r.stderr}`).toBe(1)
        expect(r.stderr, `${command} without ${missing}`).toMatch(new RegExp(`ACCESS_DENIED[^\\n]*${action.replace(':', '\\:')}`))
        expect(r.stderr).not.toContain(user.secretAccessKey)
        expect(await state(s.bucket), `${command} without ${missing} leaves the bucket as it was`).toEqual(before)
        seen.push(`${command} -${missing}`)
      }
    }
    expect(seen).toEqual([
      'status -List',
      'status -Read',
      'publish -List',
      'publish -Read',
      'publish -Write',
      'rollback -List',
      'rollback -Read',
      'rollback -Write',
      'prune -List',
      'prune -Read',
      'prune -Prune',
    ])
    await grant(s.bucket, ROWS.status)
    expect((await statusOf(s.bucket)).current).toBe(s.releaseB)

    // without Lease a publish succeeds and the lease stays behind until it expires
    await grant(s.bucket, ROWS.publish.filter((n) => n !== 'Lease'))
    expectExit(await runCli(publish(s.bucket, c, '--no-prune'), env), 0)
    expect(await leaseThere(s.bucket)).toBe(true)
  })
})
