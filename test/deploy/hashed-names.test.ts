import { describe, expect, test } from 'vitest'
import { hashedNameForm } from '../../src/deploy/hashed-names.js'

describe('hashedNameForm: the documented list of hashed names', () => {
  test.each([
    ['assets/index-BxP3kQ9a.js', '<name>-<hash>.<ext>'],
    ['assets/index-D-r_3kQa.css', '<name>-<hash>.<ext>'],
    ['assets/manifest-0f3a9c1e.js', '<name>-<hash>.<ext>'],
    ['assets/index-BxPkQaZw.js', '<name>-<hash>.<ext>'],
    ['img/hero-AbC123xY.png', '<name>-<hash>.<ext>'],
    ['chunk-ABCD1234.js', '<name>-<hash>.<ext>'],
    ['assets/index-BxP3kQ9a.js.map', '<name>-<hash>.<ext>'],
    ['_astro/index.BxP3kQ9a.css', '<name>.<hash>.<ext>'],
    ['_app/immutable/chunks/entry.Dk2a9Xq1.js', '<name>.<hash>.<ext>'],
    ['main.3f2a1b4c5d6e7f80.js', '<name>.<hash>.<ext>'],
    ['css/main.min.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.css', '<name>.<hash>.<ext>'],
    ['_nuxt/BxP3kQ9a.js', '<hash>.<ext>'],
    ['_nuxt/Dk2a9Xq1', '<hash>.<ext>'],
  ])('%s carries a hash (%s)', (path, form) => {
    expect(hashedNameForm(path)).toBe(form)
  })

  test.each([
    'index.html',
    'favicon.ico',
    'robots.txt',
    'img/hero.png',
    'fonts/roboto-regular.woff2',
    'fonts/roboto-v30-latin-regular.woff2',
    'vendor/jquery-3.7.1.js',
    'jquery.min.js',
    'reports/report-20240101.pdf',
    'icons/apple-icon-1024x1024.png',
    'icons/android-chrome-192x192.png',
    'components/button-PrimaryA.js',
    'assets/polyfills.js',
    '_app/version.json',
    '_nuxt/builds/latest.json',
    'manifest.webmanifest',
    '.well-known/security.txt',
  ])('%s carries none', (path) => {
    expect(hashedNameForm(path)).toBeUndefined()
  })
})
