/**
 * Headless Chromium for the browser tests (Debian's `chromium`, or `CHROMIUM_PATH`), and
 * `playground/skew`, the app they deploy release after release.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import type { fixtureCopies } from './build.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Chromium as these machines can run it: as root, and with no network beyond loopback. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

/** In the page of playground/skew: the rendered route's text, or the error the page recorded, or null while neither. */
export const ROUTE_OUTCOME =
  "document.querySelector('#report')?.textContent ?? document.body.dataset.preloadError ?? document.body.dataset.importError ?? null"

/** A copy of playground/skew to build releases from; `change()` makes release 2 (the lazy route's code and the image its stylesheet names). */
export function skewApp(fx: ReturnType<typeof fixtureCopies>) {
  const root = fx.project('playground/skew')
  return {
    root,
    change() {
      const route = path.join(root, 'src/routes/report.js')
      writeFileSync(route, readFileSync(route, 'utf8').replace("'release one'", "'release two'"))
      const image = path.join(root, 'public/img/report.png')
      writeFileSync(image, Buffer.concat([readFileSync(image), Buffer.from('release two')]))
    },
  }
}
