/**
 * The `cdn-publish` command-line binary, end to end: the built `dist/cli/index.js` is spawned as a child
 * process with an explicit environment (no AWS or CDN_PUBLISH variables but the ones a test sets,
 * no shared AWS config files, no instance metadata) against both S3 test servers (radosgw and
 * s3rver). What landed is read back with the test's own SDK client.
 *
 * Needs `npm run build` first (the binary is dist/cli/index.js).
 */
import { appendFileSync, cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { DeleteObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import type { CdnManifest } from '../src/index.js'
import { codes, fixtureCopies, repoRoot, viteBuild, type BuildResult } from './helpers/build.js'
import { cliEnv, runCli, type CliResult } from './helpers/cli.js'
import { recordKey } from './helpers/keys.js'
import { adminClient, closedPort, createBucket, credsEnv, listAll, readObject } from './helpers/s3.js'

const servers = inject('s3servers')
const tmpRoot = path.join(repoRoot, 'test/.tmp')
const STACK_RE = /\n\s+at\s/

const fx = fixtureCopies()
afterAll(() => fx.cleanup())
const tempDir = (label: string) => fx.temp(`cli-${label}`)

// ---------------------------------------------------------------------------------------------
// running the binary

/** The exit code, with the output in the failure message. */
function expectExit(r: CliResult, code: number) {
  expect(r.code, `exit code (signal ${r.signal})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(code)
}

// ---------------------------------------------------------------------------------------------
// usage: nothing here reaches a server

describe('usage', () => {
  let nowhere: string
  beforeAll(async () => {
    nowhere = `http://127.0.0.1:${await closedPort()}`
  })

  test('--help, -h and help print the main usage and exit 0', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await runCli(args, cliEnv())
      expectExit(r, 0)
      expect(r.stdout).toMatch(/^Usage: cdn-publish <command> \[options\]/)
      for (const c of ['status', 'publish <dir>', 'prune', 'rollback <release>']) expect(r.stdout).toContain(`  ${c} `)
      expect(r.stderr).toBe('')
    }
  })

  test.each([
    ['status', 'Usage: cdn-publish status [options]', '--json'],
    ['publish', 'Usage: cdn-publish publish <dir> [options]', '--no-prune'],
    ['prune', 'Usage: cdn-publish prune [options]', '--dry-run'],
    ['rollback', 'Usage: cdn-publish rollback <release> [options]', '--dry-run'],
  ])('%s --help prints its usage and exits 0', async (command, usage, flag) => {
    for (const help of ['--help', '-h']) {
      const r = await runCli([command, help], cliEnv())
      expectExit(r, 0)
      expect(r.stdout.startsWith(`${usage}\n`)).toBe(true)
      expect(r.stdout).toContain(`  ${flag} `)
      expect(r.stdout).toContain('--bucket <name>')
      expect(r.stderr).toBe('')
    }
    // the retention flags are documented exactly for the commands that take them
    const r = await runCli([command, '--help'], cliEnv())
    expect(r.stdout.includes('--releases <n>')).toBe(command !== 'rollback')
  })

  test('no command prints the usage and exits 2', async () => {
    const r = await runCli([], cliEnv())
    expectExit(r, 2)
    expect(r.stdout).toMatch(/^Usage: cdn-publish <command> \[options\]/)
  })

  test('an unknown command exits 2 and names it', async () => {
    const r = await runCli(['deploy', '--bucket', 'some-bucket'], cliEnv())
    expectExit(r, 2)
    expect(r.stderr).toContain('unknown command "deploy"')
    expect(r.stderr).toContain('Usage: cdn-publish <command>')
    expect(r.stdout).toBe('')
  })

  test('an unknown flag exits 2 and names it', async () => {
    const r = await runCli(['status', '--bucket', 'some-bucket', '--frobnicate'], cliEnv())
    expectExit(r, 2)
    expect(r.stderr).toContain("cdn-publish status: unknown option '--frobnicate'")
    expect(r.stderr).toContain('Run cdn-publish status --help')
    expect(r.stderr).not.toMatch(STACK_RE)
  })

  test.each([
    [['rollback', 'abc', '--json'], 'rollback does not take --json'],
    [['rollback', 'abc', '--releases', '2'], 'rollback does not take --releases'],
    [['prune', '--label', 'x'], 'prune does not take --label'],
    [['status', '--dry-run'], 'status does not take --dry-run'],
  ])('a flag the command does not take exits 2: %j', async (args, message) => {
    const r = await runCli([...args, '--bucket', 'some-bucket', '--endpoint', nowhere], cliEnv())
    expectExit(r, 2)
    expect(r.stderr).toContain(message)
  })

  test('a wrong number of arguments exits 2', async () => {
    const noDir = await runCli(['publish', '--bucket', 'some-bucket', '--endpoint', nowhere], cliEnv())
    expectExit(noDir, 2)
    expect(noDir.stderr).toContain('expects one argument <dir>')
    const extra = await runCli(['status', 'x', '--bucket', 'some-bucket', '--endpoint', nowhere], cliEnv())
    expectExit(extra, 2)
    expect(extra.stderr).toContain('takes no arguments (got x)')
  })

  test('--releases 0 exits 2 with INVALID_OPTION', async () => {
    for (const command of ['status', 'prune']) {
      const r = await runCli([command, '--releases', '0', '--bucket', 'some-bucket', '--endpoint', nowhere, '--force-path-style'], cliEnv())
      expectExit(r, 2)
      expect(r.stderr).toContain('INVALID_OPTION')
      expect(r.stderr).toContain('`--releases`')
      expect(r.stderr).not.toMatch(STACK_RE)
    }
  })

  test('other invalid values exit 2 with INVALID_OPTION naming the flag', async () => {
    for (const [args, option] of [
      [['status', '--min-age', '5'], '--min-age'],
      [['prune', '--grace', 'soon'], '--grace'],
      [['status', '--orphans', 'maybe'], '--orphans'],
      [['status', '--prefix', 'a/../b'], '--prefix'],
      [['status', '--bucket', 's3://x/y'], '--bucket'],
      [['status', '--endpoint', 'ftp://127.0.0.1:1'], '--endpoint'],
      [['publish', tmpRoot, '--concurrency', '0'], '--concurrency'],
    ] as const) {
      // the defaults first: for a repeated flag the last one counts
      const [command, ...rest] = args
      const r = await runCli([command, '--bucket', 'some-bucket', '--endpoint', nowhere, ...rest], cliEnv())
      expectExit(r, 2)
      expect(r.stderr, args.join(' ')).toContain('INVALID_OPTION')
      expect(r.stderr, args.join(' ')).toContain(`\`${option}\``)
    }
  })

  test('no bucket exits 2 and says where a bucket can come from', async () => {
    for (const command of ['status', 'prune']) {
      const r = await runCli([command, '--endpoint', nowhere, '--force-path-style'], cliEnv())
      expectExit(r, 2)
      expect(r.stderr).toContain(`cdn-publish ${command}: no bucket`)
      expect(r.stderr).toContain('CDN_PUBLISH_BUCKET')
      expect(r.stdout).toBe('')
    }
  })

  test('a --config file that does not exist exits 2', async () => {
    const r = await runCli(['status', '--config', path.join(tmpRoot, 'no-such-config.json')], cliEnv())
    expectExit(r, 2)
    expect(r.stderr).toContain('no such file')
  })

  test('a --config file whose publish or retention is not an object exits 2, naming it', async () => {
    for (const [content, key] of [
      ['{"retention": 5}', 'retention must be an object'],
      ['{"publish": "my-bucket"}', 'publish must be an object'],
    ] as const) {
      const file = path.join(tempDir('bad-config'), 'cdn-publish.config.json')
      writeFileSync(file, content)
      const r = await runCli(['status', '--config', file, '--bucket', 'some-bucket', '--endpoint', nowhere], cliEnv())
      expectExit(r, 2)
      expect(r.stderr).toContain(key)
    }
  })

  test('help <command> shows that command; the command may follow flags', async () => {
    const help = await runCli(['help', 'prune'], cliEnv())
    expectExit(help, 0)
    expect(help.stdout).toMatch(/^Usage: cdn-publish prune/)
    // flags first: the command is still found, and a bad --concurrency is named as typed
    const r = await runCli(['--bucket', 'some-bucket', '--endpoint', nowhere, 'publish', tmpRoot, '--concurrency', '1e1'], cliEnv())
    expectExit(r, 2)
    expect(r.stderr).toContain('Invalid option `--concurrency`: expected a whole number, got "1e1"')
  })

  test('publish of an empty directory fails naming it, before any request, and writes nothing into it', async () => {
    const dir = tempDir('empty')
    const report = path.join(tempDir('report'), 'report.json')
    const r = await runCli(['publish', dir, '--bucket', 'some-bucket', '--endpoint', nowhere, '--report', report], cliEnv())
    expectExit(r, 1)
    expect(r.stderr).toContain(`error [PUBLISH_FAILED]: ${dir} holds nothing to publish`)
    expect(readdirSync(dir)).toEqual([])
    // the report says the run failed, and why
    expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ ok: false, error: { code: 'PUBLISH_FAILED', message: expect.stringContaining('holds nothing to publish') } })
  })

  test('publish of a directory that does not exist exits 2, naming it', async () => {
    const dir = path.join(tempDir('gone'), 'dist')
    const r = await runCli(['publish', dir, '--bucket', 'some-bucket', '--endpoint', nowhere], cliEnv())
    expectExit(r, 2)
    expect(r.stderr).toContain(`${dir} is not a directory`)
  })
})

// ---------------------------------------------------------------------------------------------
// against the S3 test servers

interface Build {
  dir: string
  result: BuildResult
  manifest: CdnManifest
  bytes: Buffer
}

const paths = (m: CdnManifest) => Object.keys(m.files).sort()

interface StatusJson {
  bucket: string
  prefix: string
  endpoint: string
  current: string | null
  releases: { release: string; state: string; keep: boolean; reasons: string[]; files: number; missing: number }[]
  prune: { deletions: number; releases: string[] }
}

describe.each(servers.map((s) => [s.name, s] as const))('cdn-publish on %s', (_name, server) => {
  const admin = adminClient(server)
  const withCreds = (extra: Record<string, string> = {}) => cliEnv({ ...credsEnv(server), ...extra })
  const target = (bucket: string, prefix = 'site/') => ['--bucket', bucket, '--prefix', prefix, '--endpoint', server.endpoint, '--force-path-style']
  let A: Build
  let B: Build

  beforeAll(async () => {
    const root = fx.copy()
    const a = await viteBuild('vite8', root, {})
    expect(codes(a)).toEqual([])
    // keep build A's output: the changed build is made in the same fixture copy
    const dirA = tempDir('dist-a')
    cpSync(a.outDir, dirA, { recursive: true })
    A = { dir: dirA, result: a, manifest: a.manifest!, bytes: a.files.get('cdn-manifest.json')! }
    appendFileSync(path.join(root, 'public/img/logo.png'), Buffer.from('changed bytes'))
    const b = await viteBuild('vite8', root, {})
    expect(codes(b)).toEqual([])
    B = { dir: b.outDir, result: b, manifest: b.manifest!, bytes: b.files.get('cdn-manifest.json')! }
    expect(A.manifest.release).not.toBe(B.manifest.release)
    expect(readFileSync(path.join(A.dir, 'cdn-manifest.json')).equals(A.bytes)).toBe(true)
  })
  afterAll(() => admin.destroy())

  async function publish(build: Build, bucket: string, extra: string[] = []): Promise<CliResult> {
    const r = await runCli(['publish', build.dir, ...target(bucket), ...extra], withCreds())
    expectExit(r, 0)
    return r
  }

  async function status(bucket: string, prefix = 'site/'): Promise<StatusJson> {
    const r = await runCli(['status', '--json', ...target(bucket, prefix)], withCreds())
    expectExit(r, 0)
    return JSON.parse(r.stdout) as StatusJson
  }

  /** Every file of the build's manifest and the stable manifest under `prefix`, with the build's bytes. */
  async function expectServed(bucket: string, prefix: string, build: Build) {
    const keys = new Set((await listAll(admin, bucket, prefix)).map((o) => o.key))
    for (const p of paths(build.manifest)) {
      expect(keys.has(prefix + p), `${prefix + p} in the bucket`).toBe(true)
      const back = await readObject(admin, bucket, prefix + p)
      expect(back.bytes.equals(build.result.files.get(p)!), `bytes of ${prefix + p}`).toBe(true)
    }
    const stable = await readObject(admin, bucket, `${prefix}cdn-manifest.json`)
    expect(stable.bytes.equals(build.bytes), 'bytes of the stable manifest').toBe(true)
  }

  test('publish uploads every file of the manifest and the stable manifest under the prefix', async () => {
    const bucket = await createBucket(admin, 'cli-publish')
    const r = await publish(A, bucket)
    expect(r.stderr).toMatch(new RegExp(`^publishing release ${A.manifest.release} to s3://${bucket}/site/ at ${server.endpoint}: `, 'm'))
    expect(r.stderr).toContain(`bucket ${bucket} (flag)`)
    expect(r.stderr).toContain('prefix "site/" (flag)')
    expect(r.stderr).toMatch(new RegExp(`^published release ${A.manifest.release} `, 'm'))
    expect(r.stderr).not.toMatch(STACK_RE)
    await expectServed(bucket, 'site/', A)
    // nothing outside the prefix
    const all = await listAll(admin, bucket)
    expect(all.filter((o) => !o.key.startsWith('site/'))).toEqual([])
    expect(all.map((o) => o.key)).toContain(recordKey('site/', A.manifest.release))
  })

  test('publish --dry-run writes nothing and shows the plan', async () => {
    const bucket = await createBucket(admin, 'cli-publish-dry')
    const r = await publish(A, bucket, ['--dry-run'])
    expect(r.stderr).toMatch(new RegExp(`^dry run: would publish release ${A.manifest.release} to s3://${bucket}/site/`, 'm'))
    expect(r.stderr).toContain('dryRun true (flag)')
    expect(await listAll(admin, bucket)).toEqual([])
  })

  test('status --json and the status table after a publish', async () => {
    const bucket = await createBucket(admin, 'cli-status')
    await publish(A, bucket)
    const s = await status(bucket)
    expect(s.bucket).toBe(bucket)
    expect(s.prefix).toBe('site/')
    expect(s.endpoint).toBe(server.endpoint)
    expect(s.current).toBe(A.manifest.release)
    expect(s.releases).toHaveLength(1)
    expect(s.releases[0]).toMatchObject({ release: A.manifest.release, state: 'current', keep: true, files: paths(A.manifest).length, missing: 0 })
    expect(s.prune.deletions).toBe(0)
    expect(s.prune.releases).toEqual([])

    const t = await runCli(['status', ...target(bucket)], withCreds())
    expectExit(t, 0)
    expect(t.stdout).toContain(`s3://${bucket}/site/ at ${server.endpoint}: 1 release(s), current ${A.manifest.release}`)
    expect(t.stdout).toMatch(new RegExp(`^${A.manifest.release}\\s+-\\s+current\\s`, 'm'))
    expect(t.stdout).toMatch(/^prune now: would delete 0 release\(s\) and 0 object\(s\)/m)
    expect(t.stdout).not.toMatch(/^\s*\{/)
  })

  test('status of an empty prefix: no release, current null', async () => {
    const bucket = await createBucket(admin, 'cli-status-empty')
    const s = await status(bucket)
    expect(s.current).toBeNull()
    expect(s.releases).toEqual([])
  })

  test('prune --dry-run deletes nothing; prune deletes the replaced release, keeps every file of the current one', async () => {
    const bucket = await createBucket(admin, 'cli-prune')
    await publish(A, bucket)
    const second = await publish(B, bucket)
    expect(second.stderr).toContain(`(was ${A.manifest.release})`)
    const before = await listAll(admin, bucket)
    const policy = ['--releases', '1', '--min-age', '0', '--grace', '0']

    const dry = await runCli(['prune', '--dry-run', ...policy, ...target(bucket)], withCreds())
    expectExit(dry, 0)
    expect(dry.stderr).toMatch(/^dry run: would prune .*prefix "site\/": keep 1 release\(s\)/m)
    expect(dry.stderr).toMatch(new RegExp(`^  delete   release ${A.manifest.release} \\(.+\\)$`, 'm'))
    expect(dry.stderr).toMatch(new RegExp(`^  keep     release ${B.manifest.release} \\(.+\\)$`, 'm'))
    expect(dry.stderr).toMatch(new RegExp(`^  delete   ${recordKey('site/', A.manifest.release).replace(/\./g, '\\.')} \\(.+\\)$`, 'm'))
    expect(dry.stderr).toContain('nothing was deleted')
    expect(await listAll(admin, bucket)).toEqual(before)

    const r = await runCli(['prune', ...policy, ...target(bucket)], withCreds())
    expectExit(r, 0)
    expect(r.stderr).toMatch(/^pruned in .*releases kept 1, deleted 1/m)
    const after = new Set((await listAll(admin, bucket)).map((o) => o.key))
    expect(after.has(recordKey('site/', A.manifest.release))).toBe(false)
    expect(after.has(recordKey('site/', B.manifest.release))).toBe(true)
    for (const p of paths(B.manifest)) expect(after.has(`site/${p}`), `site/${p} of the current release`).toBe(true)
    // what only the first release named is gone
    const onlyA = paths(A.manifest).filter((p) => B.manifest.files[p] === undefined)
    expect(onlyA.length).toBeGreaterThan(0)
    for (const p of onlyA) expect(after.has(`site/${p}`), `site/${p} of the pruned release`).toBe(false)
    expect(after.size).toBeLessThan(before.length)
    await expectServed(bucket, 'site/', B)

    const s = await status(bucket)
    expect(s.current).toBe(B.manifest.release)
    expect(s.releases.map((x) => x.release)).toEqual([B.manifest.release])
  })

  test('publish prunes by the retention flags afterwards, unless --no-prune', async () => {
    const bucket = await createBucket(admin, 'cli-publish-prune')
    const policy = ['--releases', '1', '--min-age', '0', '--grace', '0']
    await publish(A, bucket)
    const noPrune = await publish(B, bucket, [...policy, '--no-prune'])
    expect(noPrune.stderr).not.toMatch(/^pruned /m)
    let keys = new Set((await listAll(admin, bucket)).map((o) => o.key))
    expect(keys.has(recordKey('site/', A.manifest.release))).toBe(true)

    // the same build again, now with pruning: the replaced release goes
    const again = await publish(B, bucket, policy)
    expect(again.stderr).toMatch(/releases kept 1, deleted 1/)
    keys = new Set((await listAll(admin, bucket)).map((o) => o.key))
    expect(keys.has(recordKey('site/', A.manifest.release))).toBe(false)
    await expectServed(bucket, 'site/', B)
    expect((await status(bucket)).releases.map((x) => [x.release, x.state])).toEqual([[B.manifest.release, 'current']])
  })

  test('rollback to a pruned release is refused and writes nothing', async () => {
    const bucket = await createBucket(admin, 'cli-rb-pruned')
    await publish(A, bucket)
    await publish(B, bucket)
    const pruned = await runCli(['prune', '--releases', '1', '--min-age', '0', '--grace', '0', ...target(bucket)], withCreds())
    expectExit(pruned, 0)
    const before = await listAll(admin, bucket)
    const r = await runCli(['rollback', A.manifest.release, ...target(bucket)], withCreds())
    expectExit(r, 1)
    expect(r.stderr).toContain('ROLLBACK_REFUSED')
    expect(r.stderr).toContain(A.manifest.release)
    expect(r.stderr).not.toMatch(STACK_RE)
    expect(await listAll(admin, bucket)).toEqual(before)
    expect((await readObject(admin, bucket, 'site/cdn-manifest.json')).bytes.equals(B.bytes)).toBe(true)
  })

  test('rollback to a release with a file missing from the bucket is refused, naming the file', async () => {
    const bucket = await createBucket(admin, 'cli-rb-missing')
    await publish(A, bucket)
    await publish(B, bucket)
    const onlyA = paths(A.manifest).filter((p) => B.manifest.files[p] === undefined)
    expect(onlyA.length).toBeGreaterThan(0)
    await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: `site/${onlyA[0]}` }))
    const before = await listAll(admin, bucket)
    const r = await runCli(['rollback', A.manifest.release, ...target(bucket)], withCreds())
    expectExit(r, 1)
    expect(r.stderr).toContain('ROLLBACK_REFUSED')
    expect(r.stderr).toContain(`site/${onlyA[0]}`)
    expect(await listAll(admin, bucket)).toEqual(before)
  })

  test('rollback restores the manifest and mutable files of a retained release; --dry-run writes nothing', async () => {
    const bucket = await createBucket(admin, 'cli-rollback')
    await publish(A, bucket)
    await publish(B, bucket)
    expect((await readObject(admin, bucket, 'site/cdn-manifest.json')).bytes.equals(B.bytes)).toBe(true)
    expect(A.result.files.get('index.html')!.equals(B.result.files.get('index.html')!)).toBe(false)

    const before = await listAll(admin, bucket)
    const dry = await runCli(['rollback', A.manifest.release, '--dry-run', ...target(bucket)], withCreds())
    expectExit(dry, 0)
    expect(dry.stderr).toMatch(new RegExp(`^dry run: would roll back .*from release ${B.manifest.release} to ${A.manifest.release}`, 'm'))
    expect(dry.stderr).toMatch(/^  restore  site\/index\.html /m)
    expect(dry.stderr).toContain('nothing was written')
    expect(await listAll(admin, bucket)).toEqual(before)

    const r = await runCli(['rollback', A.manifest.release, ...target(bucket)], withCreds())
    expectExit(r, 0)
    expect(r.stderr).toMatch(new RegExp(`^rolled back to release ${A.manifest.release} `, 'm'))
    expect((await readObject(admin, bucket, 'site/cdn-manifest.json')).bytes.equals(A.bytes)).toBe(true)
    expect((await readObject(admin, bucket, 'site/index.html')).bytes.equals(A.result.files.get('index.html')!)).toBe(true)
    const keys = new Set((await listAll(admin, bucket, 'site/')).map((o) => o.key))
    for (const p of paths(A.manifest)) {
      expect(keys.has(`site/${p}`), `site/${p} of the restored release`).toBe(true)
      if (!A.manifest.files[p].immutable) continue
      const back = await readObject(admin, bucket, `site/${p}`)
      expect(back.bytes.equals(A.result.files.get(p)!), `bytes of site/${p}`).toBe(true)
    }
    // every mutable file is snapshotted, binary ones too: the plain logo has A's bytes again
    expect(A.manifest.files['img/logo.png']?.immutable).toBe(false)
    expect((await readObject(admin, bucket, 'site/img/logo.png')).bytes.equals(A.result.files.get('img/logo.png')!)).toBe(true)

    const s = await status(bucket)
    expect(s.current).toBe(A.manifest.release)
    const byId = new Map(s.releases.map((x) => [x.release, x]))
    expect(byId.get(A.manifest.release)?.state).toBe('current')
    expect(byId.get(B.manifest.release)?.state).toBe('replaced')

    // a unique prefix of the id names the release too; rolling forward again
    const forward = await runCli(['rollback', B.manifest.release.slice(0, 8), ...target(bucket)], withCreds())
    expectExit(forward, 0)
    expect((await readObject(admin, bucket, 'site/cdn-manifest.json')).bytes.equals(B.bytes)).toBe(true)
    expect((await status(bucket)).current).toBe(B.manifest.release)
  })

  test('precedence: flags > CDN_PUBLISH_* environment > --config file', async () => {
    const bucket = await createBucket(admin, 'cli-config')
    const dir = tempDir('config')
    const config = path.join(dir, 'cdn-config.json')
    writeFileSync(config, JSON.stringify({ publish: { bucket: 'from-config', prefix: 'cfg/' } }))
    const where = ['--endpoint', server.endpoint, '--force-path-style']

    // the environment wins over the config file; the prefix comes from the config file
    const fromEnv = await runCli(['status', '--json', '--config', config, ...where], withCreds({ CDN_PUBLISH_BUCKET: bucket }))
    expectExit(fromEnv, 0)
    const s1 = JSON.parse(fromEnv.stdout) as StatusJson
    expect(s1.bucket).toBe(bucket)
    expect(s1.prefix).toBe('cfg/')

    // a flag wins over the environment
    const fromFlag = await runCli(
      ['status', '--json', '--config', config, '--bucket', bucket, ...where],
      withCreds({ CDN_PUBLISH_BUCKET: 'from-env-no-such-bucket' }),
    )
    expectExit(fromFlag, 0)
    const s2 = JSON.parse(fromFlag.stdout) as StatusJson
    expect(s2.bucket).toBe(bucket)
    expect(s2.prefix).toBe('cfg/')

    // the environment wins over the config file for the prefix too
    const envPrefix = await runCli(['status', '--json', '--config', config, '--bucket', bucket, ...where], withCreds({ CDN_PUBLISH_PREFIX: 'env/' }))
    expectExit(envPrefix, 0)
    expect((JSON.parse(envPrefix.stdout) as StatusJson).prefix).toBe('env/')

    // the start line names each value's source
    const dry = await runCli(['publish', A.dir, '--dry-run', '--config', config, ...where], withCreds({ CDN_PUBLISH_BUCKET: bucket }))
    expectExit(dry, 0)
    expect(dry.stderr).toMatch(new RegExp(`^dry run: would publish release ${A.manifest.release} to s3://${bucket}/cfg/ `, 'm'))
    expect(dry.stderr).toContain(`bucket ${bucket} (env CDN_PUBLISH_BUCKET)`)
    expect(dry.stderr).toContain('prefix "cfg/" (config file cdn-config.json)')
    expect(dry.stderr).toContain(`endpoint ${server.endpoint} (flag)`)
    expect(await listAll(admin, bucket)).toEqual([])

    // only the config file: its bucket is used (and does not exist)
    const onlyConfig = await runCli(['status', '--json', '--config', config, ...where], withCreds())
    expectExit(onlyConfig, 1)
    expect(onlyConfig.stderr).toContain('from-config')
    expect(onlyConfig.stderr).not.toMatch(STACK_RE)
  })

  test('no credentials: status exits 1 with CREDENTIALS_MISSING and no stack trace', async () => {
    const bucket = await createBucket(admin, 'cli-nocreds')
    const r = await runCli(['status', ...target(bucket)], cliEnv())
    expectExit(r, 1)
    expect(r.stderr).toContain('CREDENTIALS_MISSING')
    expect(r.stderr).not.toMatch(STACK_RE)
    expect(r.stdout).toBe('')
  })
})
