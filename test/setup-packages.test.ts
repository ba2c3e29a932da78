/**
 * What the test setup installs before a run (test/servers/packages.ts): the Ceph packages when
 * radosgw is to start and one of its commands is missing, Chromium when neither CHROMIUM_PATH
 * nor /usr/bin/chromium is there, all in one apt-get run; nothing when all is present.
 */
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { commandPath, installMissingPackages, missingPackages } from './servers/packages.js'
import { tempDir, removeDir } from './helpers/build.js'

const CEPH = ['radosgw', 'ceph-mon', 'ceph-osd', 'ceph-common', 'curl']
const all = () => true
const none = () => false

describe('missingPackages', () => {
  it('nothing when every command and /usr/bin/chromium are there', () => {
    expect(missingPackages(['radosgw', 's3rver'], {}, all, all)).toEqual({ packages: [], reasons: [] })
  })

  it('Chromium when /usr/bin/chromium is missing and CHROMIUM_PATH unset; not when CHROMIUM_PATH names another binary', () => {
    const needed = missingPackages(['s3rver'], {}, all, none)
    expect(needed.packages).toEqual(['chromium'])
    expect(needed.reasons).toEqual([expect.stringContaining('/usr/bin/chromium is missing')])
    expect(missingPackages(['s3rver'], { CHROMIUM_PATH: '/opt/chrome/chrome' }, all, none).packages).toEqual([])
  })

  it('the Ceph packages when radosgw is to start and any command rgw-start.sh needs is missing', () => {
    const needed = missingPackages(['radosgw', 's3rver'], {}, (c) => c !== 'radosgw-admin', all)
    expect(needed.packages).toEqual(CEPH)
    expect(needed.reasons).toEqual([expect.stringContaining('missing: radosgw-admin')])
    // s3rver alone needs none of them
    expect(missingPackages(['s3rver'], {}, none, all).packages).toEqual([])
  })

  it('everything missing: one list for one apt-get run', () => {
    expect(missingPackages(['radosgw'], {}, none, none).packages).toEqual([...CEPH, 'chromium'])
  })
})

describe('installMissingPackages', () => {
  const saved = process.env.PATH
  const dirs: string[] = []
  afterEach(() => {
    process.env.PATH = saved
    dirs.splice(0).forEach(removeDir)
  })

  it('does nothing, and says nothing, when nothing is missing', async () => {
    const lines: string[] = []
    await installMissingPackages({ packages: [], reasons: [] }, (l) => lines.push(l))
    expect(lines).toEqual([])
  })

  it('without apt-get: an error that names the packages and what to do instead', async () => {
    const empty = tempDir('no-apt')
    dirs.push(empty)
    process.env.PATH = empty
    const lines: string[] = []
    const run = installMissingPackages(missingPackages(['s3rver'], {}, all, none), (l) => lines.push(l))
    await expect(run).rejects.toThrow(/Debian packages chromium, and apt-get is not available here: install them by hand \(apt-get install chromium\), or set CHROMIUM_PATH/)
    expect(lines).toEqual([])
  })

  it('commandPath finds an executable on PATH, and nothing for a name that is not there', () => {
    expect(commandPath(path.basename(process.execPath), path.dirname(process.execPath))).toBe(process.execPath)
    expect(commandPath('no-such-command-here', path.dirname(process.execPath))).toBeUndefined()
  })
})
