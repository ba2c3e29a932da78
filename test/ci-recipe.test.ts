/**
 * The README's "In CI" recipe, run as written: the workflow's `run:` lines and the config file
 * are read from the README. The build job's `npx vite build` is a real Vite build of a fixture app
 * with the plugin, the label from `CDN_PUBLISH_LABEL` and no bucket (it publishes nothing); the
 * deploy job's `npx cdn-publish …` lines run the real binary, in the README's order, against each
 * S3 test server, with the bucket and prefix in the environment as the workflow sets them. Two
 * deploys in a row (release A, then B): after B's publish and prune, A is complete (its grace
 * period has not passed) and B is served.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, inject, test } from 'vitest'
import type { CdnManifest } from '../src/index.js'
import { codes, fixtureCopies, repoRoot, viteBuild } from './helpers/build.js'
import { cliEnv, runCli } from './helpers/cli.js'
import { adminClient, createBucket, credsEnv, listAll, withEnv } from './helpers/s3.js'

const servers = inject('s3servers')
const fx = fixtureCopies()
afterAll(() => fx.cleanup())

/** The recipe: the workflow's `run:` lines in order, and the config file. */
function recipe(): { runs: string[]; config: string } {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## In CI\n'), readme.indexOf('\n## The manifest\n'))
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!
  const config = /```json\n([\s\S]*?)```/.exec(section)![1]!
  const runs = [...yaml.matchAll(/^\s*- run: (.+)$/gm)].map((m) => m[1]!.trim())
  return { runs, config }
}

const { runs, config } = recipe()

test('the recipe builds once, then per environment publishes without pruning, rolls the servers, and prunes', () => {
  expect(runs).toEqual([
    'npm ci',
    'npx vite build',
    'npm ci',
    'npx cdn-publish publish dist --no-prune --config cdn-publish.config.json',
    './deploy/roll-app-servers.sh',
    'npx cdn-publish prune --config cdn-publish.config.json',
  ])
  expect(JSON.parse(config)).toEqual({ retention: { releases: 5, minAge: '7d', grace: '1h' } })
})

describe.each(servers.map((s) => [s.name, s] as const))('the CI recipe on %s', (name, server) => {
  const admin = adminClient(server)
  afterAll(() => admin.destroy())

  test('two deploys in the README order: each release served after its publish, the previous one complete after the prune', async () => {
    const bucket = await createBucket(admin, `ci-${name}`)
    const prefix = 'static/'
    const app = fx.app()
    const cliArgs = (line: string) => line.replace(/^npx cdn-publish /, '').split(' ')
    const publishLine = runs.find((r) => r.startsWith('npx cdn-publish publish'))!
    const pruneLine = runs.find((r) => r.startsWith('npx cdn-publish prune'))!
    const deployEnv = cliEnv({ ...credsEnv(server), CDN_PUBLISH_BUCKET: bucket, CDN_PUBLISH_PREFIX: prefix, CDN_PUBLISH_ENDPOINT: server.endpoint })
    const keys = async () => new Set((await listAll(admin, bucket, prefix)).map((o) => o.key.slice(prefix.length)))
    const served: CdnManifest[] = []

    for (const [i, sha] of ['1111111aaaa', '2222222bbbb'].entries()) {
      app.set({ lazy: sha })
      // build job: `npx vite build` with the label and no bucket
      const built = await withEnv({ CDN_PUBLISH_LABEL: sha }, () => viteBuild('vite8', app.root, {}))
      expect(codes(built)).toEqual([])
      const manifest = built.manifest!
      expect(manifest.label).toBe(sha)
      writeFileSync(path.join(app.root, 'cdn-publish.config.json'), config)

      // deploy job, step 1: publish, no prune
      const published = await runCli(cliArgs(publishLine), deployEnv, { cwd: app.root })
      expect(published.code, published.stderr).toBe(0)
      expect(published.stderr).toContain(`published release ${manifest.release}`)
      const stable = JSON.parse(readFileSync(path.join(app.root, 'dist/cdn-manifest.json'), 'utf8')) as CdnManifest
      expect(stable.release).toBe(manifest.release)
      served.push(manifest)
      // step 2 rolls the app servers: every file of every release so far is there meanwhile
      const during = await keys()
      for (const m of served) for (const f of Object.keys(m.files)) expect(during.has(f), `${f} of release ${m.release}`).toBe(true)

      // step 3: prune by the config file's policy
      const pruned = await runCli(cliArgs(pruneLine), deployEnv, { cwd: app.root })
      expect(pruned.code, pruned.stderr).toBe(0)
      expect(pruned.stderr).not.toMatch(/warning|error/)
    }

    const after = await keys()
    for (const m of served) for (const f of Object.keys(m.files)) expect(after.has(f), `${f} of release ${m.release} kept`).toBe(true)
    const status = await runCli(['status', '--json'], deployEnv, { cwd: app.root })
    expect(status.code, status.stderr).toBe(0)
    const s = JSON.parse(status.stdout) as { current?: string; releases: { release: string; label?: string }[] }
    expect(s.current).toBe(served[1]!.release)
    expect(s.releases.map((r) => [r.release, r.label]).sort()).toEqual(served.map((m) => [m.release, m.label]).sort())
  })
})
