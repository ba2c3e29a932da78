/**
 * The `.env` files the publish options are read from, without Vite: the files Vite reads, in
 * Vite's order, `$NAME` expansion, the real environment winning, and only the publish variables.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import { loadEnvFiles } from '../src/options/env.js'
import { bucketRule } from '../src/options/validate.js'
import { removeDir, repoRoot } from './helpers/build.js'

const dirs: string[] = []
afterAll(() => dirs.forEach(removeDir))
const saved = { ...process.env }
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
  Object.assign(process.env, saved)
})

function project(files: Record<string, string>): string {
  mkdirSync(path.join(repoRoot, 'test/.tmp'), { recursive: true })
  const dir = mkdtempSync(path.join(repoRoot, 'test/.tmp/env-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return dir
}

describe('loadEnvFiles', () => {
  test('later files win: .env < .env.local < .env.[mode] < .env.[mode].local; other modes and other variables are ignored', () => {
    const root = project({
      '.env': 'CDN_PUBLISH_BUCKET=from-env\nCDN_PUBLISH_PREFIX=base/\nAWS_SECRET_ACCESS_KEY=never-read\nOTHER=x\n',
      '.env.local': 'CDN_PUBLISH_BUCKET=from-local\n',
      '.env.staging': 'CDN_PUBLISH_BUCKET=from-staging\nCDN_PUBLISH_LABEL="quoted label"\n',
      '.env.staging.local': 'CDN_PUBLISH_DRY_RUN=1\n',
      '.env.production': 'CDN_PUBLISH_BUCKET=from-production\n',
    })
    expect(loadEnvFiles({ mode: 'staging', root })).toEqual({
      CDN_PUBLISH_BUCKET: 'from-staging',
      CDN_PUBLISH_PREFIX: 'base/',
      CDN_PUBLISH_LABEL: 'quoted label',
      CDN_PUBLISH_DRY_RUN: '1',
    })
    expect(loadEnvFiles({ mode: 'production', root })).toEqual({ CDN_PUBLISH_BUCKET: 'from-production', CDN_PUBLISH_PREFIX: 'base/' })
  })

  test('a variable of the real environment is not taken from a file; $NAME and ${NAME} expand', () => {
    const root = project({ '.env': 'CDN_PUBLISH_BUCKET=site-${STAGE}\nCDN_PUBLISH_PREFIX=$APP/static/\nCDN_PUBLISH_LABEL=cost \\$5\nAPP=shop\nCDN_PUBLISH_REGION=eu-west-1\n' })
    process.env.STAGE = 'qa'
    process.env.CDN_PUBLISH_REGION = 'us-east-1'
    expect(loadEnvFiles({ mode: 'production', root })).toEqual({ CDN_PUBLISH_BUCKET: 'site-qa', CDN_PUBLISH_PREFIX: 'shop/static/', CDN_PUBLISH_LABEL: 'cost $5' })
  })

  test('envDir relative to the root, envDir false, and no project read nothing else', () => {
    const root = project({ '.env': 'CDN_PUBLISH_BUCKET=top\n' })
    mkdirSync(path.join(root, 'env'))
    writeFileSync(path.join(root, 'env/.env'), 'CDN_PUBLISH_BUCKET=nested\n')
    expect(loadEnvFiles({ mode: 'production', root, envDir: 'env' })).toEqual({ CDN_PUBLISH_BUCKET: 'nested' })
    expect(loadEnvFiles({ mode: 'production', root, envDir: false })).toEqual({})
    expect(loadEnvFiles(undefined)).toEqual({})
  })
})

describe('bucketRule names the rule a bucket name breaks', () => {
  test.each([
    ['ab', '3 to 63 characters, this one has 2'],
    ['a'.repeat(64), '3 to 63 characters, this one has 64'],
    ['my site', `only letters, digits, '.', '-' and '_', this one has " " at position 3`],
    ['-site', 'a letter or digit at each end'],
    ['site.', 'a letter or digit at each end'],
    ['my..site', "no two '.' in a row"],
    ['site/static', "no '/': put the path in `prefix`"],
  ])('%j: %s', (bucket, rule) => {
    expect(bucketRule(bucket)).toBe(rule)
  })

  test.each(['abc', 'my-site-assets', 'My_Legacy.Bucket', 'a'.repeat(63)])('%j is a bucket name', (bucket) => {
    expect(bucketRule(bucket)).toBeUndefined()
  })
})
